import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackModel, stackDefinition } from '../../src/local/stack-model';
import { sourceTableNames } from '../../src/schemas/source';
import { warehouseTableNames } from '../../src/schemas/warehouse';
import { defaultExtractSettings } from '../../src/stages/extract/settings';
import { isWildcardResource, resourcesOfType, roleStatements, templateProblems, type Resource, type Template } from './template-checks';

const run = promisify(execFile);
const projectRoot = resolve(import.meta.dirname, '../..');
const STAGE = 'test';

/** Packages offline, with no AWS credentials, as CI does. */
async function packageStack(outputDir: string): Promise<Template> {
  const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', SLS_INTERACTIVE_SETUP_DISABLE: '1' };
  for (const name of ['AWS_ENDPOINT_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete env[name];
  await run(join(projectRoot, 'node_modules/.bin/serverless'), ['package', '--stage', STAGE, '--package', outputDir], {
    cwd: projectRoot,
    env,
    timeout: 170_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(await readFile(join(outputDir, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
}

const clone = (template: Template): Template => structuredClone(template);
const props = (resource: Resource | undefined): Record<string, unknown> => resource?.Properties ?? {};

function allowedActions(template: Template, roleId: string): string[] {
  const role = template.Resources[roleId];
  if (!role) throw new Error(`no ${roleId}`);
  return roleStatements(role).flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action])).sort();
}

describe('serverless package', () => {
  let outputDir: string;
  let template: Template;
  const model = loadStackModel({ stage: STAGE });

  beforeAll(async () => {
    outputDir = await mkdtemp(join(tmpdir(), 'totes-package-'));
    template = await packageStack(outputDir);
  }, 180_000);

  afterAll(async () => {
    await rm(outputDir, { recursive: true, force: true });
  });

  it('passes every invariant of the deployed stack', () => {
    expect(templateProblems(template)).toEqual([]);
  });

  it('deploys three nodejs22.x functions, each with its own role and the handler environment', () => {
    for (const id of ['extract', 'transform', 'load'] as const) {
      const fn = props(template.Resources[`${id[0]?.toUpperCase()}${id.slice(1)}LambdaFunction`]);
      const variables = (fn.Environment as { Variables: Record<string, unknown> }).Variables;

      expect(fn.Runtime).toBe('nodejs22.x');
      expect(fn.Handler).toBe(`src/handlers/${id}.handler`);
      expect(fn.FunctionName).toBe(model.functions[id].name);
      expect(fn.Timeout).toBe(model.functions[id].timeout);
      expect(fn.Role).toEqual({ 'Fn::GetAtt': [`${id[0]?.toUpperCase()}${id.slice(1)}Role`, 'Arn'] });
      expect(Object.keys(variables)).toEqual(expect.arrayContaining([
        'INGESTION_BUCKET', 'PROCESSED_BUCKET', 'WATERMARK_TABLE', 'STATE_TABLE', 'TOTESYS_SECRET_ID', 'WAREHOUSE_SECRET_ID',
        'TRANSFORM_QUEUE_URL', 'LOAD_QUEUE_URL', 'LATE_COMMIT_WINDOW_SECONDS', 'MAX_ROWS_PER_OBJECT', 'LOG_LEVEL', 'DB_TLS',
      ]));
      expect(variables.TOTESYS_SECRET_ID).toBe(`totes/${STAGE}/totesys`);
      // The deployment's defaults (serverless.yml, infra/stack.cjs) are the extract's own.
      expect(variables.LATE_COMMIT_WINDOW_SECONDS).toBe(String(defaultExtractSettings.lateCommitWindowSeconds));
      expect(variables.MAX_ROWS_PER_OBJECT).toBe(String(defaultExtractSettings.maxRowsPerObject));
      // The heap budget the bench measures each stage with, below the function's memory.
      const { heapMb, semiSpaceMb, v8PoolSize } = stackDefinition.functionSettings[id];
      expect(variables.NODE_OPTIONS).toBe(
        `--enable-source-maps --max-old-space-size=${heapMb}${semiSpaceMb === undefined ? '' : ` --max-semi-space-size=${semiSpaceMb}`} --v8-pool-size=${v8PoolSize}`,
      );
      // One helper thread: a function of this memory has less than one vCPU (infra/stack.cjs).
      expect(v8PoolSize).toBe(1);
      expect(stackDefinition.functionSettings[id].heapMb).toBeLessThan(fn.MemorySize as number);
      expect(fn.VpcConfig).toMatchObject({ 'Fn::If': ['HasVpc', expect.anything(), { Ref: 'AWS::NoValue' }] });
    }
  });

  it('grants each function only the actions it uses', () => {
    const logs = ['logs:CreateLogStream', 'logs:PutLogEvents'];
    const consume = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ReceiveMessage'];

    expect(allowedActions(template, 'ExtractRole')).toEqual([
      ...logs, 'secretsmanager:GetSecretValue', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query',
      's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 'cloudwatch:PutMetricData',
    ].sort());
    expect(allowedActions(template, 'TransformRole')).toEqual([
      ...logs, ...consume, 's3:GetObject', 's3:ListBucket', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts',
      'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:PutItem',
    ].sort());
    expect(allowedActions(template, 'LoadRole')).toEqual([...logs, ...consume, 's3:GetObject', 's3:ListBucket', 'secretsmanager:GetSecretValue', 'dynamodb:PutItem'].sort());
  });

  it('scopes each role to its own resources', () => {
    const resources = (roleId: string, action: string) =>
      roleStatements(template.Resources[roleId] as Resource)
        .filter((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]).includes(action))
        .map((statement) => JSON.stringify(statement.Resource));

    expect(resources('ExtractRole', 'secretsmanager:GetSecretValue')).toEqual([expect.stringContaining(`secret:totes/${STAGE}/totesys-??????`)]);
    expect(resources('LoadRole', 'secretsmanager:GetSecretValue')).toEqual([expect.stringContaining(`secret:totes/${STAGE}/warehouse-??????`)]);
    expect(resources('ExtractRole', 's3:PutObject')).toEqual([expect.stringContaining(`:::totes-${STAGE}-ingestion-`)]);
    expect(resources('TransformRole', 's3:PutObject')).toEqual([expect.stringContaining(`:::totes-${STAGE}-processed-`)]);
    expect(resources('TransformRole', 'sqs:ReceiveMessage')).toEqual([JSON.stringify({ 'Fn::GetAtt': ['TransformQueue', 'Arn'] })]);
    expect(resources('LoadRole', 'sqs:ReceiveMessage')).toEqual([JSON.stringify({ 'Fn::GetAtt': ['LoadQueue', 'Arn'] })]);
    expect(resources('ExtractRole', 'dynamodb:PutItem')).toEqual([JSON.stringify({ 'Fn::GetAtt': ['WatermarkTable', 'Arn'] })]);
    expect(resources('TransformRole', 'dynamodb:PutItem')).toEqual([JSON.stringify({ 'Fn::GetAtt': ['StateTable', 'Arn'] }), JSON.stringify({ 'Fn::GetAtt': ['FailuresTable', 'Arn'] })]);
    expect(resources('LoadRole', 'dynamodb:PutItem')).toEqual([JSON.stringify({ 'Fn::GetAtt': ['FailuresTable', 'Arn'] })]);
    expect(resources('ExtractRole', 'logs:PutLogEvents')).toEqual([expect.stringContaining(`log-group:/aws/lambda/totes-${STAGE}-extract:*`)]);
    const metricStatement = roleStatements(template.Resources.ExtractRole as Resource).find((s) => s.Action.includes('cloudwatch:PutMetricData'));
    expect(metricStatement?.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'totes' } });
  });

  it('runs the extract on a schedule and consumes both queues with partial batch failures', () => {
    const [[, rule] = []] = resourcesOfType(template, 'AWS::Events::Rule');
    const mappings = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').map(([, mapping]) => props(mapping));

    expect(props(rule).ScheduleExpression).toBe('rate(5 minutes)');
    expect(mappings).toHaveLength(2);
    for (const mapping of mappings) {
      expect(mapping).toMatchObject({ BatchSize: 2, MaximumBatchingWindowInSeconds: 5, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    }
  });

  it('gives each queue its DLQ with the model\'s receive limit and a visibility of six function timeouts', () => {
    for (const queue of model.queues) {
      const properties = props(template.Resources[queue.logicalId]);

      expect(properties.QueueName).toBe(queue.name);
      expect(properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [queue.dlq.logicalId, 'Arn'] }, maxReceiveCount: queue.maxReceiveCount });
      expect(properties.VisibilityTimeout).toBe(6 * model.functions[queue.consumer].timeout);
      expect(props(template.Resources[queue.dlq.logicalId]).MessageRetentionPeriod).toBe(14 * 24 * 3600);
    }
  });

  it('notifies each queue from its bucket, filtered per table prefix and file suffix', () => {
    const filters = (bucketId: string) =>
      ((props(template.Resources[bucketId]).NotificationConfiguration as { QueueConfigurations: { Event: string; Queue: unknown; Filter: { S3Key: { Rules: unknown[] } } }[] }).QueueConfigurations)
        .map((c) => ({ event: c.Event, queue: c.Queue, rules: c.Filter.S3Key.Rules }));

    expect(filters('IngestionBucket')).toEqual(sourceTableNames.map((table) => ({
      event: 's3:ObjectCreated:*', queue: { 'Fn::GetAtt': ['TransformQueue', 'Arn'] },
      rules: [{ Name: 'prefix', Value: `${table}/` }, { Name: 'suffix', Value: '.csv' }],
    })));
    expect(filters('ProcessedBucket')).toEqual(warehouseTableNames.map((table) => ({
      event: 's3:ObjectCreated:*', queue: { 'Fn::GetAtt': ['LoadQueue', 'Arn'] },
      rules: [{ Name: 'prefix', Value: `${table}/` }, { Name: 'suffix', Value: '.parquet' }],
    })));
    const policy = JSON.stringify(props(template.Resources.TransformQueuePolicy));
    expect(policy).toContain(`arn:\${AWS::Partition}:s3:::totes-${STAGE}-ingestion-\${AWS::AccountId}-\${AWS::Region}`);
  });

  it('alarms on errors, throttles, dead letters, queue age and a stale extract, to an SNS topic with an email subscription', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm').map(([, alarm]) => props(alarm));
    const metricsOf = (namespace: string, metric: string) =>
      alarms.filter((a) => a.Namespace === namespace && a.MetricName === metric).map((a) => (a.Dimensions as { Value: string }[])[0]?.Value).sort();

    expect(metricsOf('AWS/Lambda', 'Errors')).toEqual(['totes-test-extract', 'totes-test-load', 'totes-test-transform']);
    expect(metricsOf('AWS/Lambda', 'Throttles')).toEqual(['totes-test-extract', 'totes-test-load', 'totes-test-transform']);
    expect(metricsOf('AWS/SQS', 'ApproximateNumberOfMessagesVisible')).toEqual(['totes-test-load-dlq', 'totes-test-transform-dlq']);
    expect(metricsOf('AWS/SQS', 'ApproximateAgeOfOldestMessage')).toEqual(['totes-test-load', 'totes-test-transform']);
    const staleness = alarms.find((a) => a.MetricName === 'ExtractSucceeded');
    expect(staleness).toMatchObject({ Namespace: 'totes', Period: 900, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
    expect(template.Resources.AlarmEmailSubscription).toMatchObject({ Condition: 'HasAlertEmail', Properties: { Protocol: 'email', Endpoint: { Ref: 'AlertEmail' } } });
  });

  it('keeps logs for 30 days and the tables recoverable', () => {
    for (const [, group] of resourcesOfType(template, 'AWS::Logs::LogGroup')) expect(props(group).RetentionInDays).toBe(30);
    expect(props(template.Resources.StateTable).KeySchema).toEqual([{ AttributeName: 'table', KeyType: 'HASH' }, { AttributeName: 'id', KeyType: 'RANGE' }]);
    expect(props(template.Resources.FailuresTable)).toMatchObject({
      TableName: `totes-${STAGE}-failures`,
      KeySchema: [{ AttributeName: 'key', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('adds VPC endpoints and the RDS warehouse only under their conditions', () => {
    for (const [id, endpoint] of resourcesOfType(template, 'AWS::EC2::VPCEndpoint')) expect([id, endpoint.Condition]).toEqual([id, expect.stringMatching(/^Has(Vpc|GatewayEndpoints)$/)]);
    const services = resourcesOfType(template, 'AWS::EC2::VPCEndpoint').map(([, e]) => JSON.stringify(props(e).ServiceName));
    for (const service of ['s3', 'dynamodb', 'sqs', 'secretsmanager']) expect(services).toContainEqual(expect.stringContaining(`.${service}"`));
    expect(template.Resources.WarehouseInstance).toMatchObject({
      Condition: 'CreateWarehouse',
      Properties: { StorageEncrypted: true, PubliclyAccessible: false, Engine: 'postgres' },
    });
    expect(template.Resources.WarehouseSecret).toMatchObject({ Condition: 'CreateWarehouse', Properties: { Name: `totes/${STAGE}/warehouse` } });
    expect(template.Parameters).toMatchObject({ CreateWarehouse: { Default: 'false' }, AlertEmail: { Default: '' }, SubnetIds: { Default: '' } });
  });

  describe('the invariant check catches', () => {
    it('a wildcard resource on a data action', () => {
      const mutated = clone(template);
      const statement = roleStatements(mutated.Resources.TransformRole as Resource).find((s) => s.Action.includes('sqs:ReceiveMessage'));
      if (statement) statement.Resource = '*';

      expect(templateProblems(mutated)).toEqual(['TransformRole: sqs:ReceiveMessage,sqs:DeleteMessage,sqs:GetQueueAttributes,sqs:ChangeMessageVisibility on wildcard resource "*"']);
    });

    it('a queue without a DLQ', () => {
      const mutated = clone(template);
      delete props(mutated.Resources.LoadQueue).RedrivePolicy;

      expect(templateProblems(mutated)).toEqual(expect.arrayContaining(['LoadQueue: no DLQ (RedrivePolicy)']));
    });

    it('a visibility timeout shorter than six function timeouts', () => {
      const mutated = clone(template);
      props(mutated.Resources.TransformQueue).VisibilityTimeout = 130;

      expect(templateProblems(mutated)).toEqual(['TransformQueue: visibility 130 s < 6 x TransformLambdaFunction timeout 120 s']);
    });

    it('a bucket without versioning, a table without PITR, a queue policy open to any bucket', () => {
      const mutated = clone(template);
      delete props(mutated.Resources.ProcessedBucket).VersioningConfiguration;
      delete props(mutated.Resources.WatermarkTable).PointInTimeRecoverySpecification;
      const policy = props(mutated.Resources.LoadQueuePolicy).PolicyDocument as { Statement: { Condition?: unknown }[] };
      delete policy.Statement[0]?.Condition;

      expect(templateProblems(mutated).sort()).toEqual([
        'LoadQueuePolicy: allows sending without an aws:SourceArn condition',
        'ProcessedBucket: versioning off',
        'WatermarkTable: point-in-time recovery off',
      ]);
    });
  });
});

describe('isWildcardResource', () => {
  it('flags every-resource ARNs and accepts scoped ones', () => {
    expect(isWildcardResource('*')).toBe(true);
    expect(isWildcardResource('arn:aws:s3:::*')).toBe(true);
    expect(isWildcardResource({ 'Fn::Sub': 'arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*' })).toBe(true);
    expect(isWildcardResource('arn:aws:secretsmanager:eu-west-2:123456789012:secret:*')).toBe(true);
    expect(isWildcardResource('arn:aws:sqs:*:123456789012:q')).toBe(true);
    expect(isWildcardResource({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::totes-test-ingestion-${AWS::AccountId}-${AWS::Region}/*' })).toBe(false);
    expect(isWildcardResource({ 'Fn::GetAtt': ['TransformQueue', 'Arn'] })).toBe(false);
  });
});

describe('infra/stack.cjs cloudFormation()', () => {
  it('takes the CloudFormation parameter defaults and secret names from the stage params', async () => {
    const values: Record<string, string> = { 'sls:stage': 'prod', 'param:createWarehouse': 'true', 'param:alertEmail': 'ops@example.com', 'param:warehouseSecretName': 'shared/warehouse' };
    const resolveVariable = async (address: string) => values[address.replace(/, ''$/, '')] ?? '';
    const cloudFormation = (stackDefinition as unknown as { cloudFormation(context: { resolveVariable: typeof resolveVariable }): Promise<Template> }).cloudFormation;

    const rendered = await cloudFormation({ resolveVariable });

    expect(rendered.Parameters).toMatchObject({ CreateWarehouse: { Default: 'true' }, AlertEmail: { Default: 'ops@example.com' } });
    expect(props(rendered.Resources.WarehouseSecret).Name).toBe('shared/warehouse');
    expect(props(rendered.Resources.TransformQueue).QueueName).toBe('totes-prod-transform');
  });
});
