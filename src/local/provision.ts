import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  GetBucketNotificationConfigurationCommand,
  PutBucketEncryptionCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type QueueConfiguration,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  ResourceNotFoundException as TableNotFound,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException as SecretNotFound,
} from '@aws-sdk/client-secrets-manager';
import type { AwsClients } from '../aws/clients';
import type { DbCredentials } from '../db/credentials';
import { TotesError } from '../errors';
import { defaultExtractSettings } from '../stages/extract/settings';
import { bucketModel, loadStackModel, queueModel, tableModel, type BucketModel, type QueueModel, type StackModel, type TableModel } from './stack-model';

export interface ProvisionOptions {
  /** Resource names are per stage: `totes-<stage>-ingestion`, … Default `local`. */
  readonly stage?: string;
  readonly totesysCredentials: DbCredentials;
  readonly warehouseCredentials: DbCredentials;
  /**
   * Overrides both queues' visibility timeout. The deployed value is six times the consumer's
   * timeout (minutes); a local run or a test may want a failed message back within seconds.
   */
  readonly visibilityTimeoutSeconds?: number;
}

export interface QueueOutputs {
  readonly url: string;
  readonly arn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
  readonly maxReceiveCount: number;
  readonly visibilityTimeout: number;
}

export interface StackOutputs {
  readonly stage: string;
  readonly region: string;
  readonly ingestionBucket: string;
  readonly processedBucket: string;
  readonly transformQueueUrl: string;
  readonly transformDlqUrl: string;
  readonly loadQueueUrl: string;
  readonly loadDlqUrl: string;
  readonly watermarkTable: string;
  readonly stateTable: string;
  readonly failuresTable: string;
  readonly totesysSecretId: string;
  readonly warehouseSecretId: string;
  /** ARNs, receive limits and visibility timeouts, for the local event-source runtime. */
  readonly queues: { readonly transform: QueueOutputs; readonly load: QueueOutputs };
}

/**
 * Creates the resources of infra/stack.cjs in an emulator (moto) or an account: buckets with
 * their S3→SQS notifications, queues with their DLQs, DynamoDB tables, and both database secrets.
 * Idempotent: a second run changes nothing and fails on nothing, so `totes up` can always run it.
 * IAM roles, resource policies, alarms and VPC resources are deploy-only: moto does not enforce
 * them.
 */
export async function provisionLocalStack(clients: AwsClients, options: ProvisionOptions): Promise<StackOutputs> {
  const model = loadStackModel({ stage: options.stage ?? 'local' });
  const region = await clients.s3.config.region();

  // Queues before buckets: S3 checks a notification's destination exists when it is configured.
  const transform = await provisionQueue(clients, queueModel(model, 'transform'), options.visibilityTimeoutSeconds);
  const load = await provisionQueue(clients, queueModel(model, 'load'), options.visibilityTimeoutSeconds);
  const queueArns = { transform: transform.arn, load: load.arn };
  for (const bucket of model.buckets) await provisionBucket(clients, bucket, region, queueArns[bucket.notification.queue]);
  for (const table of model.tables) await provisionTable(clients, table);
  await provisionSecret(clients, model.secrets.totesys, options.totesysCredentials);
  await provisionSecret(clients, model.secrets.warehouse, options.warehouseCredentials);

  return {
    stage: model.stage,
    region,
    ingestionBucket: bucketModel(model, 'ingestion').name,
    processedBucket: bucketModel(model, 'processed').name,
    transformQueueUrl: transform.url,
    transformDlqUrl: transform.dlqUrl,
    loadQueueUrl: load.url,
    loadDlqUrl: load.dlqUrl,
    watermarkTable: tableModel(model, 'watermark').name,
    stateTable: tableModel(model, 'state').name,
    failuresTable: tableModel(model, 'failures').name,
    totesysSecretId: model.secrets.totesys,
    warehouseSecretId: model.secrets.warehouse,
    queues: { transform, load },
  };
}

/** The stack's model for a stage, for callers that need names without provisioning. */
export function localStackModel(stage = 'local'): StackModel {
  return loadStackModel({ stage });
}

/**
 * The handlers' environment for a provisioned stack: the same variables serverless.yml sets
 * (tests/local/provision.test.ts checks the names against infra/stack.cjs).
 */
export function handlerEnvironment(
  outputs: StackOutputs,
  settings: { lateCommitWindowSeconds?: number; maxRowsPerObject?: number; logLevel?: string; dbTls?: boolean } = {},
): Record<string, string> {
  return {
    INGESTION_BUCKET: outputs.ingestionBucket,
    PROCESSED_BUCKET: outputs.processedBucket,
    WATERMARK_TABLE: outputs.watermarkTable,
    STATE_TABLE: outputs.stateTable,
    FAILURES_TABLE: outputs.failuresTable,
    TOTESYS_SECRET_ID: outputs.totesysSecretId,
    WAREHOUSE_SECRET_ID: outputs.warehouseSecretId,
    TRANSFORM_QUEUE_URL: outputs.transformQueueUrl,
    LOAD_QUEUE_URL: outputs.loadQueueUrl,
    LATE_COMMIT_WINDOW_SECONDS: String(settings.lateCommitWindowSeconds ?? defaultExtractSettings.lateCommitWindowSeconds),
    MAX_ROWS_PER_OBJECT: String(settings.maxRowsPerObject ?? defaultExtractSettings.maxRowsPerObject),
    LOG_LEVEL: settings.logLevel ?? 'INFO',
    DB_TLS: String(settings.dbTls ?? false),
    TOTES_STAGE: outputs.stage,
    METRICS_NAMESPACE: loadStackModel({ stage: outputs.stage }).metrics.namespace,
  };
}

function provisionError(message: string, cause: unknown): TotesError {
  return new TotesError(message, { context: { stage: 'local' }, cause });
}

async function ensureQueue(clients: AwsClients, name: string, attributes: Record<string, string>): Promise<{ url: string; arn: string }> {
  let url: string | undefined;
  try {
    url = (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (!(error instanceof QueueDoesNotExist)) throw provisionError(`cannot look up queue ${name}`, error);
  }
  try {
    if (url) {
      // An existing queue takes the definition's attributes, so a changed definition applies.
      await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
    } else {
      url = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
    }
    const described = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    const arn = described.Attributes?.QueueArn;
    if (!url || !arn) throw new Error('no queue URL or ARN returned');
    return { url, arn };
  } catch (error) {
    throw provisionError(`cannot create queue ${name}`, error);
  }
}

async function provisionQueue(clients: AwsClients, queue: QueueModel, visibilityOverride: number | undefined): Promise<QueueOutputs> {
  const dlq = await ensureQueue(clients, queue.dlq.name, {
    MessageRetentionPeriod: String(queue.dlq.messageRetentionPeriod),
    SqsManagedSseEnabled: 'true',
  });
  const visibilityTimeout = visibilityOverride ?? queue.visibilityTimeout;
  const main = await ensureQueue(clients, queue.name, {
    VisibilityTimeout: String(visibilityTimeout),
    MessageRetentionPeriod: String(queue.messageRetentionPeriod),
    SqsManagedSseEnabled: 'true',
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.arn, maxReceiveCount: queue.maxReceiveCount }),
  });
  return { url: main.url, arn: main.arn, dlqUrl: dlq.url, dlqArn: dlq.arn, maxReceiveCount: queue.maxReceiveCount, visibilityTimeout };
}

/** One configuration per table prefix, exactly as the CloudFormation bucket declares them. */
export function notificationConfigurations(bucket: BucketModel, queueArn: string): QueueConfiguration[] {
  return bucket.notification.prefixes.map((prefix) => ({
    Id: `${bucket.notification.queue}-${prefix.replace(/\/$/, '')}`,
    QueueArn: queueArn,
    Events: [...bucket.notification.events] as QueueConfiguration['Events'],
    Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }, { Name: 'suffix', Value: bucket.notification.suffix }] } },
  }));
}

/** Order-insensitive comparison, so an unchanged configuration is not put again. */
function sameNotifications(existing: QueueConfiguration[], wanted: QueueConfiguration[]): boolean {
  const canonical = (configurations: QueueConfiguration[]) =>
    configurations
      .map((c) => JSON.stringify([
        c.QueueArn,
        [...(c.Events ?? [])].sort(),
        (c.Filter?.Key?.FilterRules ?? []).map((rule) => `${String(rule.Name).toLowerCase()}=${rule.Value}`).sort(),
      ]))
      .sort();
  return JSON.stringify(canonical(existing)) === JSON.stringify(canonical(wanted));
}

async function provisionBucket(clients: AwsClients, bucket: BucketModel, region: string, queueArn: string): Promise<void> {
  const Bucket = bucket.name;
  try {
    await clients.s3.send(new CreateBucketCommand({
      Bucket,
      ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as never } }),
    }));
  } catch (error) {
    const alreadyOwned = error instanceof BucketAlreadyOwnedByYou || (error as { name?: string }).name === 'BucketAlreadyOwnedByYou';
    if (!alreadyOwned) throw provisionError(`cannot create bucket ${Bucket}`, error);
  }
  try {
    await clients.s3.send(new PutPublicAccessBlockCommand({
      Bucket,
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    }));
    await clients.s3.send(new PutBucketEncryptionCommand({
      Bucket,
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    }));
    await clients.s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const wanted = notificationConfigurations(bucket, queueArn);
    const existing = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket }));
    // Putting a configuration makes S3 send an s3:TestEvent; skip it when nothing changed.
    if (!sameNotifications(existing.QueueConfigurations ?? [], wanted)) {
      await clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket, NotificationConfiguration: { QueueConfigurations: wanted } }));
    }
  } catch (error) {
    throw provisionError(`cannot configure bucket ${Bucket}`, error);
  }
}

async function provisionTable(clients: AwsClients, table: TableModel): Promise<void> {
  const wantedKeys = table.keys.map((key) => `${key.name}:${key.type}:${key.keyType}`).join(',');
  try {
    const described = await clients.dynamo.send(new DescribeTableCommand({ TableName: table.name }));
    const types = new Map((described.Table?.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
    const actualKeys = (described.Table?.KeySchema ?? []).map((k) => `${k.AttributeName}:${types.get(k.AttributeName)}:${k.KeyType}`).join(',');
    // A key schema cannot be changed in place; say so rather than run against the wrong table.
    if (actualKeys !== wantedKeys) {
      throw new TotesError(`table ${table.name} exists with keys ${actualKeys}, but infra/stack.cjs defines ${wantedKeys}; delete it and provision again`, {
        context: { stage: 'local', table: table.name },
      });
    }
    await provisionTimeToLive(clients, table);
    return;
  } catch (error) {
    if (!(error instanceof TableNotFound)) {
      if (error instanceof TotesError) throw error;
      throw provisionError(`cannot describe table ${table.name}`, error);
    }
  }
  try {
    await clients.dynamo.send(new CreateTableCommand({
      TableName: table.name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: table.keys.map((key) => ({ AttributeName: key.name, AttributeType: key.type })),
      KeySchema: table.keys.map((key) => ({ AttributeName: key.name, KeyType: key.keyType })),
    }));
    await clients.dynamo.send(new UpdateContinuousBackupsCommand({
      TableName: table.name,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    }));
  } catch (error) {
    throw provisionError(`cannot create table ${table.name}`, error);
  }
  await provisionTimeToLive(clients, table);
}

/** Enables the table's TTL once; an existing table created before the definition had one gets it too. */
async function provisionTimeToLive(clients: AwsClients, table: TableModel): Promise<void> {
  if (!table.ttlAttribute) return;
  try {
    const described = await clients.dynamo.send(new DescribeTimeToLiveCommand({ TableName: table.name }));
    const current = described.TimeToLiveDescription;
    if (current?.AttributeName === table.ttlAttribute && (current.TimeToLiveStatus === 'ENABLED' || current.TimeToLiveStatus === 'ENABLING')) return;
    await clients.dynamo.send(new UpdateTimeToLiveCommand({ TableName: table.name, TimeToLiveSpecification: { AttributeName: table.ttlAttribute, Enabled: true } }));
  } catch (error) {
    throw provisionError(`cannot enable the time to live of table ${table.name}`, error);
  }
}

async function provisionSecret(clients: AwsClients, secretId: string, credentials: DbCredentials): Promise<void> {
  const secretString = JSON.stringify(credentials);
  let current: string | undefined;
  let exists = true;
  try {
    current = (await clients.secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    if (!(error instanceof SecretNotFound)) throw provisionError(`cannot read secret ${secretId}`, error);
    exists = false;
  }
  try {
    if (!exists) await clients.secrets.send(new CreateSecretCommand({ Name: secretId, SecretString: secretString }));
    else if (current !== secretString) await clients.secrets.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: secretString }));
  } catch (error) {
    // The message names the secret only: its value holds a password.
    throw provisionError(`cannot write secret ${secretId}`, error);
  }
}
