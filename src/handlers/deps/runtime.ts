import { ChangeMessageVisibilityCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import type { AwsClients } from '../aws/clients';
import type { AwsSettings } from '../aws/config';
import { DynamoStateStore } from '../aws/dynamo-state-store';
import { DynamoFailureJournal } from '../aws/failure-journal';
import { DynamoWatermarkStore } from '../aws/dynamo-watermark-store';
import { createCloudWatchMetrics, type PipelineMetrics } from '../aws/metrics';
import { S3ObjectStore } from '../aws/s3-object-store';
import { createCachedSecretReader } from '../aws/secrets';
import type { HandlerConfig } from '../config';
import { createLazyPool, pgPoolConfig, type LazyPool } from '../db/credentials';
import { createPgSourceReader } from '../db/source-reader';
import { ensureWarehouseSchema } from '../db/warehouse-ddl';
import { createPgWarehouse } from '../db/warehouse-writer';
import { NotYetAvailableError, TotesError, describeError } from '../errors';
import { unreadableMessageKey } from '../schemas/failure';
import { objectsInNotification } from '../schemas/messages';
import { createJsonLogger } from '../observability/logger';
import type { ExtractDeps } from '../stages/extract';
import type { LoadDeps } from '../stages/load';
import { systemClock, type Logger } from '../stages/ports';
import type { TransformDeps } from '../stages/transform';

/**
 * The composition root: turns configuration into the stages' deps. Deployed handlers call it
 * once per cold start with the environment serverless.yml sets; the local runtime calls it with
 * the names of the stack it provisioned. Nothing here holds logic of its own.
 */
export interface Runtime {
  readonly config: HandlerConfig;
  readonly clients: AwsClients;
  readonly aws: AwsSettings;
  readonly logger?: Logger;
}

function loggerFor(runtime: Runtime, stage: string): Logger {
  return (runtime.logger ?? createJsonLogger({ level: runtime.config.LOG_LEVEL })).child({ stage });
}

/**
 * The pool lives as long as the container, but the password is read per new connection (pg calls
 * the function each time) through the 5-minute secret cache: after a rotation, connections
 * already open keep working, and new ones use the new password once the cached one expires.
 */
function databasePool(runtime: Runtime, secretId: string, applicationName: string): LazyPool {
  const secrets = createCachedSecretReader(runtime.clients.secrets);
  return createLazyPool(async () => ({
    ...pgPoolConfig(await secrets.readDbCredentials(secretId), { ssl: runtime.config.DB_TLS || undefined, applicationName }),
    password: async () => (await secrets.readDbCredentials(secretId)).password,
  }));
}

export interface ExtractRuntime {
  readonly deps: ExtractDeps;
  readonly metrics: PipelineMetrics;
}

export function extractRuntime(runtime: Runtime): ExtractRuntime {
  const pool = databasePool(runtime, runtime.config.TOTESYS_SECRET_ID, 'totes-extract');
  return {
    deps: {
      source: createPgSourceReader(() => pool.get()),
      objectStore: new S3ObjectStore(runtime.clients.s3, runtime.config.INGESTION_BUCKET),
      watermarks: new DynamoWatermarkStore(runtime.clients.dynamo, runtime.config.WATERMARK_TABLE),
      clock: systemClock,
      logger: loggerFor(runtime, 'extract'),
      settings: {
        lateCommitWindowSeconds: runtime.config.LATE_COMMIT_WINDOW_SECONDS,
        maxRowsPerObject: runtime.config.MAX_ROWS_PER_OBJECT,
        leaseSeconds: runtime.config.EXTRACT_LEASE_SECONDS,
      },
    },
    metrics: createCloudWatchMetrics(runtime.aws, { namespace: runtime.config.METRICS_NAMESPACE, stage: runtime.config.TOTES_STAGE }),
  };
}

export function transformDeps(runtime: Runtime): TransformDeps {
  return {
    ingestion: new S3ObjectStore(runtime.clients.s3, runtime.config.INGESTION_BUCKET),
    processed: new S3ObjectStore(runtime.clients.s3, runtime.config.PROCESSED_BUCKET),
    state: new DynamoStateStore(runtime.clients.dynamo, runtime.config.STATE_TABLE),
    logger: loggerFor(runtime, 'transform'),
  };
}

/** The warehouse deps; the schema is created (idempotently) before the first load of a container. */
export async function loadDeps(runtime: Runtime): Promise<LoadDeps> {
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
export function backOffWaitingFacts(runtime: Runtime) {
  const queueUrl = runtime.config.LOAD_QUEUE_URL;
  const baseSeconds = runtime.config.LOAD_RETRY_BASE_SECONDS;
  return async (record: SQSRecord, error: unknown): Promise<void> => {
    if (!(error instanceof NotYetAvailableError) || !queueUrl) return;
    const attempt = Math.max(1, Number(record.attributes.ApproximateReceiveCount) || 1);
    const delay = Math.min(baseSeconds * 2 ** (attempt - 1), 900);
    await runtime.clients.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: record.receiptHandle, VisibilityTimeout: delay }));
  };
}

export type RecordFailureHook = (record: SQSRecord, error: unknown) => Promise<void>;

/**
 * Writes each failed record's last error to the failure journal, because the message that ends
 * in a DLQ carries no reason and `totes dlq list` must say why. The consumer runtime calls it
 * after logging and swallows (and logs) its errors, so a journal outage never changes a
 * record's outcome nor hides its error.
 */
export function recordFailures(runtime: Runtime, stage: 'transform' | 'load'): RecordFailureHook {
  const tableName = runtime.config.FAILURES_TABLE;
  const journal = tableName ? new DynamoFailureJournal(runtime.clients.dynamo, tableName) : null;
  return async (record, error) => {
    if (!journal) return;
    const at = new Date().toISOString();
    // Keyed by the objects the message announces — what the DLQ listing reads back — not by the
    // error's key, which may name an output object (a Parquet file the transform could not write).
    for (const key of announcedKeys(record, error)) {
      await journal.record({
        key,
        stage,
        messageId: record.messageId,
        receiveCount: Number(record.attributes.ApproximateReceiveCount) || 0,
        error: describeError(error),
        retryable: error instanceof TotesError ? error.retryable : true,
        at,
      });
    }
  };
}

function announcedKeys(record: SQSRecord, error: unknown): string[] {
  try {
    const keys = objectsInNotification(record.body).map((object) => object.key);
    if (keys.length > 0) return keys;
  } catch {
    // An unreadable body: fall through to the error's key or the message id.
  }
  const contextKey = error instanceof TotesError ? error.context.key : undefined;
  return [contextKey ?? unreadableMessageKey(record.messageId)];
}

/** Runs every hook even when one fails (a journal outage must not cancel a back-off), then reports the first failure. */
export function allFailureHooks(...hooks: RecordFailureHook[]): RecordFailureHook {
  return async (record, error) => {
    const results = await Promise.allSettled(hooks.map((hook) => hook(record, error)));
    const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (rejected) throw rejected.reason;
  };
}
