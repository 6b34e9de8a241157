import { GetBucketEncryptionCommand, GetBucketNotificationConfigurationCommand, GetBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ReceiveMessageCommand, DeleteMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { DescribeContinuousBackupsCommand, DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients, type AwsClients } from '../../src/aws/clients';
import type { DbCredentials } from '../../src/db/credentials';
import { handlerEnvironment, provisionLocalStack, type StackOutputs } from '../../src/local/provision';
import { loadStackModel, stackDefinition } from '../../src/local/stack-model';
import { objectsInNotification } from '../../src/schemas/messages';
import { sourceTableNames } from '../../src/schemas/source';
import { warehouseTableNames } from '../../src/schemas/warehouse';
import { testAwsSettings, uniqueName } from '../support/aws';

const totesysCredentials: DbCredentials = { host: '127.0.0.1', port: 5432, username: 'postgres', password: 'pw', dbname: 'totesys' };
const warehouseCredentials: DbCredentials = { host: '127.0.0.1', port: 5432, username: 'postgres', password: 'pw', dbname: 'warehouse', ssl: false };

async function queueAttributes(clients: AwsClients, url: string): Promise<Record<string, string>> {
  return (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
}

/** Receives and deletes everything visible, returning the S3 object keys announced. */
async function drainKeys(clients: AwsClients, url: string): Promise<string[]> {
  const keys: string[] = [];
  for (;;) {
    const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (Messages.length === 0) return keys;
    for (const message of Messages as Message[]) {
      keys.push(...objectsInNotification(message.Body ?? '').map((object) => object.key));
      await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}

describe('provisionLocalStack', () => {
  const clients = createAwsClients(testAwsSettings());
  const stage = uniqueName('p');
  let outputs: StackOutputs;

  beforeAll(async () => {
    outputs = await provisionLocalStack(clients, { stage, totesysCredentials, warehouseCredentials });
  });

  it('names every resource after the stage, as infra/stack.cjs does', () => {
    const model = loadStackModel({ stage });

    expect(outputs).toMatchObject({
      stage,
      region: 'eu-west-2',
      ingestionBucket: `totes-${stage}-ingestion`,
      processedBucket: `totes-${stage}-processed`,
      watermarkTable: `totes-${stage}-watermark`,
      stateTable: `totes-${stage}-state`,
      failuresTable: `totes-${stage}-failures`,
      totesysSecretId: `totes/${stage}/totesys`,
      warehouseSecretId: `totes/${stage}/warehouse`,
    });
    expect(outputs.transformQueueUrl).toMatch(new RegExp(`/totes-${stage}-transform$`));
    expect(outputs.loadDlqUrl).toMatch(new RegExp(`/totes-${stage}-load-dlq$`));
    expect(model.buckets.map((bucket) => bucket.name)).toEqual([outputs.ingestionBucket, outputs.processedBucket]);
  });

  it('creates each queue with its DLQ, receive limit, visibility timeout and retention', async () => {
    const transform = await queueAttributes(clients, outputs.transformQueueUrl);
    const load = await queueAttributes(clients, outputs.loadQueueUrl);
    const transformDlq = await queueAttributes(clients, outputs.transformDlqUrl);

    expect(Number(transform.VisibilityTimeout)).toBe(6 * 120);
    expect(JSON.parse(transform.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: outputs.queues.transform.dlqArn, maxReceiveCount: 5 });
    expect(JSON.parse(load.RedrivePolicy ?? '{}')).toEqual({ deadLetterTargetArn: outputs.queues.load.dlqArn, maxReceiveCount: 10 });
    expect(Number(transformDlq.MessageRetentionPeriod)).toBe(14 * 24 * 3600);
    expect(outputs.queues.transform).toMatchObject({ arn: transform.QueueArn, maxReceiveCount: 5, visibilityTimeout: 720 });
  });

  it('notifies the transform queue of .csv objects under each source table, the load queue of .parquet under each warehouse table', async () => {
    const ingestion = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: outputs.ingestionBucket }));
    const processed = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: outputs.processedBucket }));

    const filters = (configs: typeof ingestion.QueueConfigurations = []) =>
      configs.map((c) => ({ queue: c.QueueArn, events: c.Events, rules: Object.fromEntries((c.Filter?.Key?.FilterRules ?? []).map((r) => [String(r.Name).toLowerCase(), r.Value])) }));
    expect(filters(ingestion.QueueConfigurations)).toEqual(
      sourceTableNames.map((table) => ({ queue: outputs.queues.transform.arn, events: ['s3:ObjectCreated:*'], rules: { prefix: `${table}/`, suffix: '.csv' } })),
    );
    expect(filters(processed.QueueConfigurations)).toEqual(
      warehouseTableNames.map((table) => ({ queue: outputs.queues.load.arn, events: ['s3:ObjectCreated:*'], rules: { prefix: `${table}/`, suffix: '.parquet' } })),
    );
  });

  it('encrypts and versions both buckets', async () => {
    for (const Bucket of [outputs.ingestionBucket, outputs.processedBucket]) {
      const versioning = await clients.s3.send(new GetBucketVersioningCommand({ Bucket }));
      const encryption = await clients.s3.send(new GetBucketEncryptionCommand({ Bucket }));

      expect(versioning.Status).toBe('Enabled');
      expect(encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe('AES256');
    }
  });

  it('creates the watermark and state tables with their keys and point-in-time recovery', async () => {
    const watermark = await clients.dynamo.send(new DescribeTableCommand({ TableName: outputs.watermarkTable }));
    const state = await clients.dynamo.send(new DescribeTableCommand({ TableName: outputs.stateTable }));
    const backups = await clients.dynamo.send(new DescribeContinuousBackupsCommand({ TableName: outputs.stateTable }));

    expect(watermark.Table?.KeySchema).toEqual([{ AttributeName: 'table', KeyType: 'HASH' }]);
    expect(state.Table?.KeySchema).toEqual([{ AttributeName: 'table', KeyType: 'HASH' }, { AttributeName: 'id', KeyType: 'RANGE' }]);
    expect(state.Table?.AttributeDefinitions).toEqual(expect.arrayContaining([{ AttributeName: 'id', AttributeType: 'N' }]));
    expect(state.Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus).toBe('ENABLED');
  });

  it('creates the failure journal keyed by object key, its entries expiring by TTL', async () => {
    const failures = await clients.dynamo.send(new DescribeTableCommand({ TableName: outputs.failuresTable }));
    const ttl = await clients.dynamo.send(new DescribeTimeToLiveCommand({ TableName: outputs.failuresTable }));
    const backups = await clients.dynamo.send(new DescribeContinuousBackupsCommand({ TableName: outputs.failuresTable }));

    expect(failures.Table?.KeySchema).toEqual([{ AttributeName: 'key', KeyType: 'HASH' }]);
    expect(ttl.TimeToLiveDescription).toMatchObject({ AttributeName: 'expiresAt', TimeToLiveStatus: 'ENABLED' });
    expect(backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus).toBe('ENABLED');
  });

  it('stores both databases\' credentials as secrets in the RDS shape', async () => {
    const totesys = await clients.secrets.send(new GetSecretValueCommand({ SecretId: outputs.totesysSecretId }));
    const warehouse = await clients.secrets.send(new GetSecretValueCommand({ SecretId: outputs.warehouseSecretId }));

    expect(JSON.parse(totesys.SecretString ?? '')).toEqual(totesysCredentials);
    expect(JSON.parse(warehouse.SecretString ?? '')).toEqual(warehouseCredentials);
  });

  it('announces a .csv under a source table prefix on the transform queue, and nothing else', async () => {
    await drainKeys(clients, outputs.transformQueueUrl);
    const put = (Key: string) => clients.s3.send(new PutObjectCommand({ Bucket: outputs.ingestionBucket, Key, Body: 'currency_id\n1\n' }));

    await put('currency/2024/11/20/currency__initial__20241120T152210.531518__abcd1234__00001.csv');
    await put('currency/2024/11/20/notes.json');
    await put('not_a_table/2024/11/20/x.csv');
    await put('currency.csv');

    expect(await drainKeys(clients, outputs.transformQueueUrl)).toEqual([
      'currency/2024/11/20/currency__initial__20241120T152210.531518__abcd1234__00001.csv',
    ]);
  });

  it('sets the handler environment serverless.yml sets', () => {
    const deployed = stackDefinition.renderEnvironment(loadStackModel({ stage }), {});

    const local = handlerEnvironment(outputs);

    expect(Object.keys(local).sort()).toEqual(Object.keys(deployed).filter((name) => name !== 'NODE_OPTIONS').sort());
  });
});

describe('provisionLocalStack run twice', () => {
  const clients = createAwsClients(testAwsSettings());

  it('changes nothing the second time: same outputs, no second test event, same notifications', async () => {
    const stage = uniqueName('p');
    const first = await provisionLocalStack(clients, { stage, totesysCredentials, warehouseCredentials });
    const depthAfterFirst = (await queueAttributes(clients, first.transformQueueUrl)).ApproximateNumberOfMessages;
    const notificationsAfterFirst = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: first.ingestionBucket }));

    const second = await provisionLocalStack(clients, { stage, totesysCredentials, warehouseCredentials });

    expect(Number(depthAfterFirst)).toBeGreaterThan(0);
    expect(second).toEqual(first);
    expect((await queueAttributes(clients, first.transformQueueUrl)).ApproximateNumberOfMessages).toBe(depthAfterFirst);
    const notificationsAfterSecond = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: first.ingestionBucket }));
    expect(notificationsAfterSecond.QueueConfigurations).toEqual(notificationsAfterFirst.QueueConfigurations);
  });

  it('applies changed credentials and a visibility override on a rerun', async () => {
    const stage = uniqueName('p');
    await provisionLocalStack(clients, { stage, totesysCredentials, warehouseCredentials });
    const rotated = { ...warehouseCredentials, password: 'rotated' };

    const outputs = await provisionLocalStack(clients, { stage, totesysCredentials, warehouseCredentials: rotated, visibilityTimeoutSeconds: 2 });

    const secret = await clients.secrets.send(new GetSecretValueCommand({ SecretId: outputs.warehouseSecretId }));
    expect(JSON.parse(secret.SecretString ?? '')).toEqual(rotated);
    expect((await queueAttributes(clients, outputs.loadQueueUrl)).VisibilityTimeout).toBe('2');
    expect(outputs.queues.load.visibilityTimeout).toBe(2);
  });
});
