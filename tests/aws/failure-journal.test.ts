import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients';
import { DynamoFailureJournal } from '../../src/aws/failure-journal';
import { handlerConfig } from '../../src/config';
import { createTransformHandler } from '../../src/handlers/transform';
import { loadStackModel, tableModel } from '../../src/local/stack-model';
import { FAILURE_TTL_SECONDS } from '../../src/schemas/failure';
import type { LogFields, Logger } from '../../src/stages/ports';
import { testAwsSettings, uniqueName } from '../support/aws';

const clients = createAwsClients(testAwsSettings());

async function createJournalTable(): Promise<string> {
  const name = uniqueName('failures');
  const model = tableModel(loadStackModel({ stage: 'test' }), 'failures');
  await clients.dynamo.send(new CreateTableCommand({
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: model.keys.map((key) => ({ AttributeName: key.name, AttributeType: key.type })),
    KeySchema: model.keys.map((key) => ({ AttributeName: key.name, KeyType: key.keyType })),
  }));
  return name;
}

function recordingLogger(lines: { level: string; message: string; fields?: LogFields }[]): Logger {
  const logger: Logger = {
    debug: (message, fields) => lines.push({ level: 'debug', message, fields }),
    info: (message, fields) => lines.push({ level: 'info', message, fields }),
    warn: (message, fields) => lines.push({ level: 'warn', message, fields }),
    error: (message, fields) => lines.push({ level: 'error', message, fields }),
    child: () => logger,
  };
  return logger;
}

function notificationEvent(bucket: string, key: string, messageId: string): SQSEvent {
  return {
    Records: [{
      messageId,
      receiptHandle: 'handle',
      body: JSON.stringify({ Records: [{ s3: { bucket: { name: bucket }, object: { key } } }] }),
      attributes: { ApproximateReceiveCount: '3', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-2:123456789012:q',
      awsRegion: 'eu-west-2',
    }],
  };
}

function transformConfig(failuresTable: string) {
  return handlerConfig({
    INGESTION_BUCKET: uniqueName('no-such-bucket'),
    PROCESSED_BUCKET: uniqueName('no-such-bucket'),
    WATERMARK_TABLE: 'unused',
    STATE_TABLE: 'unused',
    FAILURES_TABLE: failuresTable,
    TOTESYS_SECRET_ID: 'unused',
    WAREHOUSE_SECRET_ID: 'unused',
  });
}

describe('DynamoFailureJournal', () => {
  let tableName: string;
  beforeAll(async () => {
    tableName = await createJournalTable();
  });

  it('keeps the last failure of each key, with an expiry a day past the DLQ retention', async () => {
    // prepare
    const journal = new DynamoFailureJournal(clients.dynamo, tableName);
    const base = { stage: 'transform' as const, messageId: 'm1', retryable: true };

    // act
    await journal.record({ ...base, key: 'currency/a.csv', receiveCount: 1, error: 'first', at: '2030-01-01T00:00:00.000Z' });
    await journal.record({ ...base, key: 'currency/a.csv', receiveCount: 2, error: 'second', at: '2030-01-01T00:01:00.000Z' });
    const found = await journal.lastFailures(['currency/a.csv', 'currency/never-failed.csv']);

    // assert
    expect([...found.keys()]).toEqual(['currency/a.csv']);
    expect(found.get('currency/a.csv')).toEqual({
      ...base,
      key: 'currency/a.csv',
      receiveCount: 2,
      error: 'second',
      at: '2030-01-01T00:01:00.000Z',
      expiresAt: Date.parse('2030-01-01T00:01:00.000Z') / 1000 + FAILURE_TTL_SECONDS,
    });
    expect(FAILURE_TTL_SECONDS).toBe(tableModel(loadStackModel({ stage: 'test' }), 'failures').ttlSeconds);
  });

  it('reads more keys than one BatchGetItem takes', async () => {
    // prepare
    const journal = new DynamoFailureJournal(clients.dynamo, tableName);
    const keys = Array.from({ length: 130 }, (_, index) => `payment/${index}.csv`);
    for (const key of keys.slice(95, 105)) await journal.record({ key, stage: 'transform', messageId: 'm', receiveCount: 1, retryable: false, error: 'bad', at: '2030-01-01T00:00:00.000Z' });

    // act
    const found = await journal.lastFailures(keys);

    // assert
    expect([...found.keys()].sort()).toEqual(keys.slice(95, 105).sort());
  });
});

describe('a consumer recording its failures', () => {
  it('journals a failed record with its key, attempt and reason', async () => {
    // prepare
    const tableName = await createJournalTable();
    const config = transformConfig(tableName);
    const handler = createTransformHandler(async () => ({ config, aws: testAwsSettings(), clients, logger: recordingLogger([]) }));
    const key = 'currency/2030/01/01/currency__initial__20300101T000000.000000__gone0001__00001.csv';

    // act
    const response = await handler(notificationEvent(config.INGESTION_BUCKET, key, 'msg-1'), {});

    // assert
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
    const failure = (await new DynamoFailureJournal(clients.dynamo, tableName).lastFailures([key])).get(key);
    expect(failure).toMatchObject({ key, stage: 'transform', messageId: 'msg-1', receiveCount: 3, error: expect.stringContaining(key) });
  });

  it('still fails the record with its own error when the journal cannot be written', async () => {
    // prepare: a journal table that does not exist
    const lines: { level: string; message: string; fields?: LogFields }[] = [];
    const config = transformConfig(uniqueName('missing-table'));
    const handler = createTransformHandler(async () => ({ config, aws: testAwsSettings(), clients, logger: recordingLogger(lines) }));
    const key = 'currency/2030/01/01/currency__initial__20300101T000000.000000__gone0002__00001.csv';

    // act
    const response = await handler(notificationEvent(config.INGESTION_BUCKET, key, 'msg-2'), {});

    // assert
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'msg-2' }]);
    expect(lines.find((line) => line.message === 'record failed')?.fields).toMatchObject({ key, error: expect.stringContaining(key) });
    expect(lines.find((line) => line.message === 'failure hook failed')?.fields).toMatchObject({ messageId: 'msg-2', error: expect.stringContaining('cannot record the failure') });
  });
});
