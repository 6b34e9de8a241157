'use strict';

/**
 * The one definition of the deployed resources. Two consumers read it:
 * - serverless.yml includes `cloudFormation` (and `functionSettings`), so `serverless deploy`
 *   creates exactly these resources;
 * - src/local/provision.ts reads `stackModel` and creates the same buckets, queues, tables,
 *   notifications and secrets in moto.
 * Everything both need (names, queue attributes, notification filters, key schemas) lives in
 * `stackModel`; `cloudFormation` only renders it, so the two cannot drift.
 */

const { sourceTableNames, warehouseTableNames } = require('./tables.cjs');

const SERVICE = 'totes';

/**
 * Lambda's guidance: a queue's visibility timeout at least six times its consumer's timeout, so a
 * retried invocation never sees a message another invocation is still working on.
 */
const VISIBILITY_TIMEOUT_FACTOR = 6;
const FOURTEEN_DAYS = 14 * 24 * 60 * 60;
const FOUR_DAYS = 4 * 24 * 60 * 60;
/** A failure journal entry outlives the DLQ message it explains (14 days' retention), by a day. */
const FAILURE_JOURNAL_TTL_SECONDS = FOURTEEN_DAYS + 24 * 60 * 60;

/**
 * Each function's NODE_OPTIONS. `heapMb` is the V8 old-space budget: V8 sizes its heap from the
 * machine's memory and collects lazily while it has room, so a function given 1 GB (for the CPU
 * share Lambda ties to memory) would otherwise hold garbage up to it. The budget keeps a
 * function's resident memory under 512 MB whatever its memorySize (the bench runs each stage
 * with the same flag and measures it; its working set is bounded: one object of at most
 * maxRowsPerObject rows in flight in the transform and in the load). The bundles ship source maps; --enable-source-maps makes
 * stack traces point at the TypeScript.
 *
 * `semiSpaceMb` caps V8's young generation (--max-semi-space-size). The extract allocates little
 * that lives, but fast (a small object per CSV record in pg-copy-streams), so V8 grew its young
 * generation to 16 MB a half, and that was a third of the extract's heap at 1,000,000 sales
 * orders but not yet at 100,000. At 2 MB its peak RSS fell by 16 MB at 100,000 and by 43 MB at
 * 1,000,000, and its CPU fell too (2.5 → 1.9 s; the README's Performance section). The load
 * runs with 8 MB: since its COPY input lives in pooled blocks (src/db/warehouse-copy.ts), that
 * lowered its peak RSS by 16–21 MB at 1,000,000 and 9–14 MB at 100,000 for no more CPU (7.6–7.7
 * against 8.0–8.9 s at 1,000,000); before the pool it had cost ~5%. The transform keeps V8's
 * default (16 MB): at 8 MB its CPU rose and its growth from 100,000 to 1,000,000 did not fall;
 * at 1 MB its CPU rose 20–45%.
 *
 * `v8PoolSize` is the number of V8's background threads (--v8-pool-size; Node starts 4 whatever
 * the machine). They run the garbage collector's parallel and concurrent work and the optimising
 * compiler beside the function's own thread. Lambda gives a function of 512 or 1,024 MB less than
 * one vCPU (a whole one at 1,769 MB), so four helpers only take turns on that share, and on the
 * bench's 2 cores they took it from PostgreSQL: with one, the load ran 8–14% faster in four
 * alternating pairs of bench runs (README, Performance).
 */
function withNodeOptions(settings) {
  const semiSpace = settings.semiSpaceMb === undefined ? '' : ` --max-semi-space-size=${settings.semiSpaceMb}`;
  return Object.freeze({
    ...settings,
    nodeOptions: `--enable-source-maps --max-old-space-size=${settings.heapMb}${semiSpace} --v8-pool-size=${settings.v8PoolSize}`,
  });
}

/**
 * Function timeouts, sizes, heap budgets and SQS batch sizes; serverless.yml and the local runtime read them
 * from here, the queues derive from them. A consumer works on one object at a time
 * (src/stages/shared/in-flight.ts), each of at most maxRowsPerObject rows, in batches of two: a bigger batch
 * only queues objects inside one invocation while Lambda could run them in another, and makes
 * the invocation as long as all of them (the bench's initial load finished with one worker still
 * working through its batch of ten while the other stood idle). Both consumers were measured
 * with batches of two, when they still took two objects at once, and kept them.
 */
const functionSettings = Object.freeze({
  extract: withNodeOptions({ timeout: 600, memorySize: 1024, heapMb: 384, semiSpaceMb: 2, v8PoolSize: 1 }),
  transform: withNodeOptions({ timeout: 120, memorySize: 1024, heapMb: 384, v8PoolSize: 1, batchSize: 2 }),
  load: withNodeOptions({ timeout: 120, memorySize: 512, heapMb: 320, semiSpaceMb: 8, v8PoolSize: 1, batchSize: 2 }),
});

/**
 * How serverless-esbuild bundles each function (serverless.yml: `custom.esbuild`); the bench
 * bundles its stage workers with the same settings, so it measures the code as deployed.
 */
const esbuild = Object.freeze({
  bundle: true,
  minify: true,
  // Cold import is mostly V8 compiling the bundle, so its size is the cost (README, Performance).
  // The ESM builds of the AWS SDK (`module`) let esbuild drop the commands and clients a function
  // never uses; packages with an `exports` map are unaffected.
  mainFields: ['module', 'main'],
  // NODE_OPTIONS has --enable-source-maps (above), which parses the map at import; without the
  // sources embedded it is a fraction of the size, and stack traces still name file and line.
  sourcemap: true,
  sourcesContent: false,
  target: 'node22',
  platform: 'node',
  format: 'esm',
  outputFileExtension: '.mjs',
  // Bundled packages still use require(); ESM output needs it defined.
  banner: { js: "import { createRequire as __totesCreateRequire } from 'node:module'; const require = __totesCreateRequire(import.meta.url);" },
  // The AWS SDK is bundled at the pinned version rather than taken from the runtime; pg-native is
  // pg's optional native binding, never loaded.
  exclude: ['pg-native'],
  packager: 'npm',
  // serverless-esbuild requires this path (from the service directory) for the plugins' array.
  plugins: 'infra/esbuild-plugins.cjs',
});

/** What the extract emits after every successful run; the staleness alarm watches it. */
const metrics = Object.freeze({
  namespace: 'totes',
  extractSucceeded: 'ExtractSucceeded',
  stageDimension: 'Stage',
});

const SQS_CONSUME_ACTIONS = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:ChangeMessageVisibility'];

/**
 * The resources of one stage, as plain data. Bucket names are the local ones; on AWS they get
 * `-<account>-<region>` appended because bucket names are global.
 */
function stackModel(options) {
  const stage = options.stage;
  if (!/^[a-z0-9-]{1,20}$/.test(stage)) throw new Error(`invalid stage ${JSON.stringify(stage)}: use 1-20 of a-z, 0-9, -`);
  const prefix = `${SERVICE}-${stage}`;
  const queue = (id, consumer, maxReceiveCount, oldestMessageAlarmSeconds) => ({
    id,
    logicalId: `${capitalise(id)}Queue`,
    name: `${prefix}-${id}`,
    consumer,
    visibilityTimeout: functionSettings[consumer].timeout * VISIBILITY_TIMEOUT_FACTOR,
    messageRetentionPeriod: FOUR_DAYS,
    maxReceiveCount,
    oldestMessageAlarmSeconds,
    dlq: { logicalId: `${capitalise(id)}DeadLetterQueue`, name: `${prefix}-${id}-dlq`, messageRetentionPeriod: FOURTEEN_DAYS },
  });
  return {
    service: SERVICE,
    stage,
    buckets: [
      {
        id: 'ingestion',
        logicalId: 'IngestionBucket',
        name: `${prefix}-ingestion`,
        notification: { queue: 'transform', events: ['s3:ObjectCreated:*'], prefixes: sourceTableNames.map((t) => `${t}/`), suffix: '.csv' },
      },
      {
        id: 'processed',
        logicalId: 'ProcessedBucket',
        name: `${prefix}-processed`,
        notification: { queue: 'load', events: ['s3:ObjectCreated:*'], prefixes: warehouseTableNames.map((t) => `${t}/`), suffix: '.parquet' },
      },
    ],
    queues: [
      // A transform failure is a bug or a bad file: a few attempts are enough.
      queue('transform', 'transform', 5, 900),
      // A fact may wait for its dimension's file, so the load retries for longer.
      queue('load', 'load', 10, 3600),
    ],
    tables: [
      {
        id: 'watermark',
        logicalId: 'WatermarkTable',
        name: `${prefix}-watermark`,
        keys: [{ name: 'table', type: 'S', keyType: 'HASH' }],
      },
      {
        id: 'state',
        logicalId: 'StateTable',
        name: `${prefix}-state`,
        keys: [{ name: 'table', type: 'S', keyType: 'HASH' }, { name: 'id', type: 'N', keyType: 'RANGE' }],
      },
      {
        // The last error of each failed object: a DLQ message carries no reason, so
        // `totes dlq list` reads it here. Entries expire after the DLQ's retention.
        id: 'failures',
        logicalId: 'FailuresTable',
        name: `${prefix}-failures`,
        keys: [{ name: 'key', type: 'S', keyType: 'HASH' }],
        ttlAttribute: 'expiresAt',
        ttlSeconds: FAILURE_JOURNAL_TTL_SECONDS,
      },
    ],
    secrets: {
      totesys: options.totesysSecretName || `${SERVICE}/${stage}/totesys`,
      warehouse: options.warehouseSecretName || `${SERVICE}/${stage}/warehouse`,
    },
    functions: Object.fromEntries(
      Object.entries(functionSettings).map(([id, settings]) => [id, { ...settings, name: `${prefix}-${id}` }]),
    ),
    alarmTopic: { logicalId: 'AlarmTopic', name: `${prefix}-alarms` },
    metrics,
  };
}

function capitalise(word) {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

// ---------------------------------------------------------------------------------------------
// CloudFormation rendering

const sub = (text) => ({ 'Fn::Sub': text });
const ref = (id) => ({ Ref: id });
const arnOf = (id) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const split = (id) => ({ 'Fn::Split': [',', ref(id)] });
const notEmpty = (id) => ({ 'Fn::Not': [{ 'Fn::Equals': [ref(id), ''] }] });
const noValue = { Ref: 'AWS::NoValue' };

const awsBucketName = (bucket) => sub(`${bucket.name}-\${AWS::AccountId}-\${AWS::Region}`);
const bucketArn = (bucket) => sub(`arn:\${AWS::Partition}:s3:::${bucket.name}-\${AWS::AccountId}-\${AWS::Region}`);
const objectsArn = (bucket) => sub(`arn:\${AWS::Partition}:s3:::${bucket.name}-\${AWS::AccountId}-\${AWS::Region}/*`);
const queueArnByName = (name) => sub(`arn:\${AWS::Partition}:sqs:\${AWS::Region}:\${AWS::AccountId}:${name}`);
// Secrets Manager appends six random characters to a secret's ARN.
const secretArn = (name) => sub(`arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${name}-??????`);
const logStreamsArn = (fn) => sub(`arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${fn.name}:*`);

/** CloudFormation parameters, their defaults taken from the serverless `params` of the stage. */
const PARAMETERS = {
  AlertEmail: { param: 'alertEmail', Description: 'Email address subscribed to the alarm topic (empty: no subscription)' },
  VpcId: { param: 'vpcId', Description: 'VPC of the functions (empty: functions run outside a VPC)' },
  SubnetIds: { param: 'subnetIds', Description: 'Comma-separated private subnet ids for the functions (empty: no VPC)' },
  SecurityGroupIds: { param: 'securityGroupIds', Description: 'Comma-separated security group ids for the functions' },
  RouteTableIds: { param: 'routeTableIds', Description: 'Comma-separated route table ids for the S3 and DynamoDB gateway endpoints' },
  CreateWarehouse: { param: 'createWarehouse', Description: 'true: create an RDS PostgreSQL warehouse (needs the VPC parameters)', AllowedValues: ['true', 'false'] },
};

const CONDITIONS = {
  HasAlertEmail: notEmpty('AlertEmail'),
  HasVpc: { 'Fn::And': [notEmpty('VpcId'), notEmpty('SubnetIds'), notEmpty('SecurityGroupIds')] },
  HasGatewayEndpoints: { 'Fn::And': [{ Condition: 'HasVpc' }, notEmpty('RouteTableIds')] },
  CreateWarehouse: { 'Fn::And': [{ 'Fn::Equals': [ref('CreateWarehouse'), 'true'] }, { Condition: 'HasVpc' }] },
};

function bucketResources(model, bucket) {
  const queue = model.queues.find((q) => q.id === bucket.notification.queue);
  const policyId = `${bucket.logicalId}Policy`;
  return {
    [bucket.logicalId]: {
      Type: 'AWS::S3::Bucket',
      // The queue policy must exist before S3 validates the notification destination.
      DependsOn: [`${queue.logicalId}Policy`],
      Properties: {
        BucketName: awsBucketName(bucket),
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        VersioningConfiguration: { Status: 'Enabled' },
        LifecycleConfiguration: {
          Rules: [{ Id: 'expire-noncurrent-versions', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 30 }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 } }],
        },
        NotificationConfiguration: {
          // S3 allows one filter per configuration, so one configuration per table prefix.
          QueueConfigurations: bucket.notification.prefixes.flatMap((prefix) =>
            bucket.notification.events.map((event) => ({
              Event: event,
              Queue: arnOf(queue.logicalId),
              Filter: { S3Key: { Rules: [{ Name: 'prefix', Value: prefix }, { Name: 'suffix', Value: bucket.notification.suffix }] } },
            })),
          ),
        },
      },
    },
    [policyId]: {
      Type: 'AWS::S3::BucketPolicy',
      Properties: {
        Bucket: ref(bucket.logicalId),
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [{
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [bucketArn(bucket), objectsArn(bucket)],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }],
        },
      },
    },
  };
}

function queueResources(model, queue) {
  const bucket = model.buckets.find((b) => b.notification.queue === queue.id);
  return {
    [queue.dlq.logicalId]: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: queue.dlq.name,
        MessageRetentionPeriod: queue.dlq.messageRetentionPeriod,
        SqsManagedSseEnabled: true,
        RedriveAllowPolicy: { redrivePermission: 'byQueue', sourceQueueArns: [queueArnByName(queue.name)] },
      },
    },
    [queue.logicalId]: {
      Type: 'AWS::SQS::Queue',
      Properties: {
        QueueName: queue.name,
        VisibilityTimeout: queue.visibilityTimeout,
        MessageRetentionPeriod: queue.messageRetentionPeriod,
        SqsManagedSseEnabled: true,
        RedrivePolicy: { deadLetterTargetArn: arnOf(queue.dlq.logicalId), maxReceiveCount: queue.maxReceiveCount },
      },
    },
    [`${queue.logicalId}Policy`]: {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [ref(queue.logicalId)],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'OwnBucketNotifications',
              Effect: 'Allow',
              Principal: { Service: 's3.amazonaws.com' },
              Action: 'sqs:SendMessage',
              Resource: arnOf(queue.logicalId),
              Condition: { ArnEquals: { 'aws:SourceArn': bucketArn(bucket) }, StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId') } },
            },
            {
              Sid: 'DenyInsecureTransport',
              Effect: 'Deny',
              Principal: '*',
              Action: 'sqs:*',
              Resource: arnOf(queue.logicalId),
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    },
  };
}

function tableResource(table) {
  return {
    [table.logicalId]: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: table.name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: table.keys.map((key) => ({ AttributeName: key.name, AttributeType: key.type })),
        KeySchema: table.keys.map((key) => ({ AttributeName: key.name, KeyType: key.keyType })),
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        ...(table.ttlAttribute ? { TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true } } : {}),
      },
    },
  };
}

/** Least privilege: each function gets only the actions it uses, on only its own resources. */
function functionPolicies(model) {
  const bucket = (id) => model.buckets.find((b) => b.id === id);
  const queue = (id) => model.queues.find((q) => q.id === id);
  const table = (id) => model.tables.find((t) => t.id === id);
  const consume = (id) => ({ Effect: 'Allow', Action: SQS_CONSUME_ACTIONS, Resource: arnOf(queue(id).logicalId) });
  // ListBucket only so a missing object reads as 404 rather than AccessDenied.
  const read = (id) => [
    { Effect: 'Allow', Action: ['s3:GetObject'], Resource: objectsArn(bucket(id)) },
    { Effect: 'Allow', Action: ['s3:ListBucket'], Resource: bucketArn(bucket(id)) },
  ];
  // PutObject also covers CreateMultipartUpload, UploadPart and CompleteMultipartUpload.
  const write = (id) => ({ Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], Resource: objectsArn(bucket(id)) });
  const items = (id, actions) => ({ Effect: 'Allow', Action: actions.map((a) => `dynamodb:${a}`), Resource: arnOf(table(id).logicalId) });
  const secret = (name) => ({ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: secretArn(name) });
  return {
    extract: [
      secret(model.secrets.totesys),
      items('watermark', ['GetItem', 'PutItem', 'UpdateItem', 'Query']),
      write('ingestion'),
      // PutMetricData has no resource type; the namespace condition is what limits it.
      { Effect: 'Allow', Action: ['cloudwatch:PutMetricData'], Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': model.metrics.namespace } } },
    ],
    transform: [
      consume('transform'),
      ...read('ingestion'),
      write('processed'),
      items('state', ['GetItem', 'PutItem', 'UpdateItem', 'Query', 'BatchGetItem']),
      // Write-only: the journal is read by the operator's CLI, never by a function.
      items('failures', ['PutItem']),
    ],
    load: [consume('load'), ...read('processed'), secret(model.secrets.warehouse), items('failures', ['PutItem'])],
  };
}

function roleResources(model) {
  const policies = functionPolicies(model);
  return Object.fromEntries(
    Object.entries(model.functions).map(([id, fn]) => [
      `${capitalise(id)}Role`,
      {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          },
          // Only for ENI management when the functions run in a VPC.
          ManagedPolicyArns: {
            'Fn::If': ['HasVpc', [sub('arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole')], noValue],
          },
          Policies: [{
            PolicyName: `${fn.name}-policy`,
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                { Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: logStreamsArn(fn) },
                ...policies[id],
              ],
            },
          }],
        },
      },
    ]),
  );
}

function alarm(model, logicalId, properties) {
  return {
    [logicalId]: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmActions: [ref(model.alarmTopic.logicalId)],
        OKActions: [ref(model.alarmTopic.logicalId)],
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        ...properties,
      },
    },
  };
}

function alarmResources(model) {
  const resources = {
    [model.alarmTopic.logicalId]: { Type: 'AWS::SNS::Topic', Properties: { TopicName: model.alarmTopic.name } },
    AlarmEmailSubscription: {
      Type: 'AWS::SNS::Subscription',
      Condition: 'HasAlertEmail',
      Properties: { TopicArn: ref(model.alarmTopic.logicalId), Protocol: 'email', Endpoint: ref('AlertEmail') },
    },
  };
  for (const [id, fn] of Object.entries(model.functions)) {
    for (const metric of ['Errors', 'Throttles']) {
      Object.assign(resources, alarm(model, `${capitalise(id)}${metric}Alarm`, {
        AlarmDescription: `${fn.name}: ${metric.toLowerCase()} in the last 5 minutes`,
        Namespace: 'AWS/Lambda', MetricName: metric, Dimensions: [{ Name: 'FunctionName', Value: fn.name }],
        Statistic: 'Sum', Period: 300, Threshold: 0, ComparisonOperator: 'GreaterThanThreshold',
      }));
    }
  }
  for (const queue of model.queues) {
    const name = capitalise(queue.id);
    Object.assign(resources, alarm(model, `${name}DeadLetterQueueAlarm`, {
      AlarmDescription: `${queue.dlq.name}: a message gave up after ${queue.maxReceiveCount} attempts`,
      Namespace: 'AWS/SQS', MetricName: 'ApproximateNumberOfMessagesVisible', Dimensions: [{ Name: 'QueueName', Value: queue.dlq.name }],
      Statistic: 'Maximum', Period: 60, Threshold: 0, ComparisonOperator: 'GreaterThanThreshold',
    }));
    Object.assign(resources, alarm(model, `${name}QueueAgeAlarm`, {
      AlarmDescription: `${queue.name}: oldest message older than ${queue.oldestMessageAlarmSeconds} s`,
      Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: queue.name }],
      Statistic: 'Maximum', Period: 300, Threshold: queue.oldestMessageAlarmSeconds, ComparisonOperator: 'GreaterThanThreshold',
    }));
  }
  // No data is the failure here: an extract that never runs emits nothing.
  Object.assign(resources, alarm(model, 'ExtractStalenessAlarm', {
    AlarmDescription: `${model.functions.extract.name}: no successful extract for 15 minutes`,
    Namespace: model.metrics.namespace, MetricName: model.metrics.extractSucceeded,
    Dimensions: [{ Name: model.metrics.stageDimension, Value: model.stage }],
    Statistic: 'Sum', Period: 900, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching',
  }));
  return resources;
}

function vpcEndpointResources() {
  const gateway = (service) => ({
    Type: 'AWS::EC2::VPCEndpoint',
    Condition: 'HasGatewayEndpoints',
    Properties: { VpcEndpointType: 'Gateway', VpcId: ref('VpcId'), ServiceName: sub(`com.amazonaws.\${AWS::Region}.${service}`), RouteTableIds: split('RouteTableIds') },
  });
  const iface = (service) => ({
    Type: 'AWS::EC2::VPCEndpoint',
    Condition: 'HasVpc',
    Properties: {
      VpcEndpointType: 'Interface', VpcId: ref('VpcId'), ServiceName: sub(`com.amazonaws.\${AWS::Region}.${service}`),
      SubnetIds: split('SubnetIds'), SecurityGroupIds: split('SecurityGroupIds'), PrivateDnsEnabled: true,
    },
  });
  return {
    S3GatewayEndpoint: gateway('s3'),
    DynamoDbGatewayEndpoint: gateway('dynamodb'),
    SqsInterfaceEndpoint: iface('sqs'),
    SecretsManagerInterfaceEndpoint: iface('secretsmanager'),
    // The extract's success metric is the staleness alarm's only signal.
    MonitoringInterfaceEndpoint: iface('monitoring'),
  };
}

/**
 * The optional warehouse: RDS PostgreSQL whose credentials live in the warehouse secret, in the
 * shape the pipeline reads ({ host, port, username, password, dbname, ssl }).
 */
function warehouseResources(model) {
  const when = { Condition: 'CreateWarehouse' };
  return {
    WarehouseSecret: {
      Type: 'AWS::SecretsManager::Secret', ...when,
      Properties: {
        Name: model.secrets.warehouse,
        GenerateSecretString: {
          SecretStringTemplate: JSON.stringify({ username: 'totes', dbname: 'warehouse', port: 5432, ssl: true }),
          GenerateStringKey: 'password', PasswordLength: 32, ExcludeCharacters: '"@/\\\' ',
        },
      },
    },
    WarehouseSubnetGroup: {
      Type: 'AWS::RDS::DBSubnetGroup', ...when,
      Properties: { DBSubnetGroupDescription: `${model.service}-${model.stage} warehouse`, SubnetIds: split('SubnetIds') },
    },
    WarehouseSecurityGroup: {
      Type: 'AWS::EC2::SecurityGroup', ...when,
      Properties: {
        GroupDescription: `${model.service}-${model.stage} warehouse: PostgreSQL from the functions only`,
        VpcId: ref('VpcId'),
        SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, SourceSecurityGroupId: { 'Fn::Select': [0, split('SecurityGroupIds')] } }],
      },
    },
    WarehouseInstance: {
      Type: 'AWS::RDS::DBInstance', ...when,
      DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Snapshot',
      Properties: {
        Engine: 'postgres', EngineVersion: '16', DBInstanceClass: 'db.t4g.micro', AllocatedStorage: 20,
        StorageEncrypted: true, PubliclyAccessible: false, BackupRetentionPeriod: 7, DBName: 'warehouse',
        MasterUsername: sub('{{resolve:secretsmanager:${WarehouseSecret}:SecretString:username}}'),
        MasterUserPassword: sub('{{resolve:secretsmanager:${WarehouseSecret}:SecretString:password}}'),
        DBSubnetGroupName: ref('WarehouseSubnetGroup'),
        VPCSecurityGroups: [ref('WarehouseSecurityGroup')],
      },
    },
    // Adds host and port to the secret once the instance exists.
    WarehouseSecretAttachment: {
      Type: 'AWS::SecretsManager::SecretTargetAttachment', ...when,
      Properties: { SecretId: ref('WarehouseSecret'), TargetId: ref('WarehouseInstance'), TargetType: 'AWS::RDS::DBInstance' },
    },
  };
}

/** The functions' VpcConfig, merged into the Lambda resources serverless generates. */
function functionExtensions(model) {
  return Object.fromEntries(
    Object.keys(model.functions).map((id) => [
      `${capitalise(id)}LambdaFunction`,
      {
        Properties: {
          VpcConfig: { 'Fn::If': ['HasVpc', { SubnetIds: split('SubnetIds'), SecurityGroupIds: split('SecurityGroupIds') }, noValue] },
        },
      },
    ]),
  );
}

function outputs(model) {
  const out = {};
  for (const bucket of model.buckets) out[bucket.logicalId] = { Value: ref(bucket.logicalId) };
  for (const queue of model.queues) {
    out[`${queue.logicalId}Url`] = { Value: ref(queue.logicalId) };
    out[`${queue.dlq.logicalId}Url`] = { Value: ref(queue.dlq.logicalId) };
  }
  for (const table of model.tables) out[table.logicalId] = { Value: ref(table.logicalId) };
  out.AlarmTopicArn = { Value: ref(model.alarmTopic.logicalId) };
  out.TotesysSecretName = { Value: model.secrets.totesys };
  out.WarehouseSecretName = { Value: model.secrets.warehouse };
  return out;
}

/** Renders the model as the `resources` block of serverless.yml. */
function renderCloudFormation(model, parameterDefaults) {
  const Parameters = Object.fromEntries(
    Object.entries(PARAMETERS).map(([id, { param, ...rest }]) => [id, { Type: 'String', Default: String(parameterDefaults[param] ?? ''), ...rest }]),
  );
  return {
    Parameters,
    Conditions: CONDITIONS,
    Resources: {
      ...Object.assign({}, ...model.buckets.map((bucket) => bucketResources(model, bucket))),
      ...Object.assign({}, ...model.queues.map((queue) => queueResources(model, queue))),
      ...Object.assign({}, ...model.tables.map(tableResource)),
      ...roleResources(model),
      ...alarmResources(model),
      ...vpcEndpointResources(),
      ...warehouseResources(model),
    },
    extensions: functionExtensions(model),
    Outputs: outputs(model),
  };
}

/**
 * The handlers' environment: resource names from the model, tuning from the stage's params.
 * Every function gets the same variables, so a handler never depends on which one it is.
 */
function renderEnvironment(model, settings) {
  const bucket = (id) => ref(model.buckets.find((b) => b.id === id).logicalId);
  const queue = (id) => ref(model.queues.find((q) => q.id === id).logicalId);
  const table = (id) => ref(model.tables.find((t) => t.id === id).logicalId);
  return {
    INGESTION_BUCKET: bucket('ingestion'),
    PROCESSED_BUCKET: bucket('processed'),
    WATERMARK_TABLE: table('watermark'),
    STATE_TABLE: table('state'),
    FAILURES_TABLE: table('failures'),
    TOTESYS_SECRET_ID: model.secrets.totesys,
    WAREHOUSE_SECRET_ID: model.secrets.warehouse,
    TRANSFORM_QUEUE_URL: queue('transform'),
    LOAD_QUEUE_URL: queue('load'),
    LATE_COMMIT_WINDOW_SECONDS: String(settings.lateCommitWindowSeconds),
    MAX_ROWS_PER_OBJECT: String(settings.maxRowsPerObject),
    LOG_LEVEL: String(settings.logLevel),
    DB_TLS: String(settings.dbTls),
    TOTES_STAGE: model.stage,
    METRICS_NAMESPACE: model.metrics.namespace,
  };
}

async function resolveStage({ resolveVariable }) {
  const stage = await resolveVariable('sls:stage');
  const param = async (name) => {
    const value = await resolveVariable(`param:${name}, ''`);
    return value == null ? '' : String(value);
  };
  const model = stackModel({
    stage,
    totesysSecretName: await param('totesysSecretName'),
    warehouseSecretName: await param('warehouseSecretName'),
  });
  return { model, param };
}

/** serverless.yml: `resources: ${file(./infra/stack.cjs):cloudFormation}`. */
async function cloudFormation(context) {
  const { model, param } = await resolveStage(context);
  const parameterDefaults = {};
  for (const { param: name } of Object.values(PARAMETERS)) parameterDefaults[name] = await param(name);
  return renderCloudFormation(model, parameterDefaults);
}

/** serverless.yml: `provider.environment: ${file(./infra/stack.cjs):environment}`. */
async function environment(context) {
  const { model, param } = await resolveStage(context);
  const orDefault = async (name, fallback) => (await param(name)) || fallback;
  return renderEnvironment(model, {
    lateCommitWindowSeconds: await orDefault('lateCommitWindowSeconds', '900'),
    maxRowsPerObject: await orDefault('maxRowsPerObject', '50000'),
    logLevel: await orDefault('logLevel', 'INFO'),
    dbTls: await orDefault('dbTls', 'true'),
  });
}

module.exports = {
  stackModel,
  renderCloudFormation,
  renderEnvironment,
  cloudFormation,
  environment,
  functionSettings,
  esbuild,
  metrics,
  VISIBILITY_TIMEOUT_FACTOR,
  SQS_CONSUME_ACTIONS,
};
