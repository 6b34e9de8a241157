import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { createDynamoClient, createS3Client, createSecretsClient, createSqsClient, type AwsClients } from '../../aws/clients';
import type { AwsSettings } from '../../aws/config';
import { S3ObjectStore } from '../../aws/s3-object-store';
import { ensureWarehouseSchema } from '../../db/warehouse-ddl';
import { createPgWarehouse } from '../../db/warehouse-writer';
import { NotYetAvailableError } from '../../errors';
import type { LoadDeps } from '../../stages/load';
import { deliveryAttempt } from '../runtime/sqs-objects';
import { databasePool } from './database';
import { loggerFor, type RecordFailureHook, type Runtime } from './runtime';

/**
 * S3 for the Parquet objects, SQS to back off a waiting fact, DynamoDB for the failure journal,
 * Secrets Manager for the warehouse.
 */
export type LoadClients = Pick<AwsClients, 's3' | 'sqs' | 'dynamo' | 'secrets'>;

export function loadClients(settings: AwsSettings): LoadClients {
  return { s3: createS3Client(settings), sqs: createSqsClient(settings), dynamo: createDynamoClient(settings), secrets: createSecretsClient(settings) };
}

/** The warehouse deps; the schema is created (idempotently) before the first load of a container. */
export async function loadDeps(runtime: Runtime<LoadClients>): Promise<LoadDeps> {
  const pool = await databasePool(runtime, runtime.config.WAREHOUSE_SECRET_ID, 'totes-load').get();
  await ensureWarehouseSchema(pool);
  return {
    processed: new S3ObjectStore(runtime.clients.s3, runtime.config.PROCESSED_BUCKET),
    warehouse: createPgWarehouse(pool),
    logger: loggerFor(runtime, 'load'),
  };
}

/**
 * A fact waiting for its dimension is retried with a growing delay instead of the queue's full
 * visibility timeout: Lambda leaves a failed message's visibility as the function set it. After
 * maxReceiveCount receives the queue moves it to the DLQ, with the reason in the failure log.
 */
export function backOffWaitingFacts(runtime: Runtime<Pick<AwsClients, 'sqs'>>): RecordFailureHook {
  const queueUrl = runtime.config.LOAD_QUEUE_URL;
  const baseSeconds = runtime.config.LOAD_RETRY_BASE_SECONDS;
  return async (record: SQSRecord, error: unknown): Promise<void> => {
    if (!(error instanceof NotYetAvailableError) || !queueUrl) return;
    const attempt = deliveryAttempt(record);
    const delay = Math.min(baseSeconds * 2 ** (attempt - 1), 900);
    await runtime.clients.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: delay }));
  };
}
