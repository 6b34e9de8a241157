import { createDynamoClient, createS3Client, createSecretsClient, type AwsClients } from '../../aws/clients';
import type { AwsSettings } from '../../aws/config';
import { DynamoWatermarkStore } from '../../aws/dynamo-watermark-store';
import { createCloudWatchMetrics, type PipelineMetrics } from '../../aws/metrics';
import { S3ObjectStore } from '../../aws/s3-object-store';
import { createPgSourceReader } from '../../db/source-reader';
import type { ExtractDeps } from '../../stages/extract';
import { systemClock } from '../../stages/ports';
import { databasePool } from './database';
import { loggerFor, type Runtime } from './runtime';

/** S3 for the CSV objects, DynamoDB for the watermarks, Secrets Manager for the source database. */
export type ExtractClients = Pick<AwsClients, 's3' | 'dynamo' | 'secrets'>;

export function extractClients(settings: AwsSettings): ExtractClients {
  return { s3: createS3Client(settings), dynamo: createDynamoClient(settings), secrets: createSecretsClient(settings) };
}

export interface ExtractRuntime {
  readonly deps: ExtractDeps;
  readonly metrics: PipelineMetrics;
}

export function extractRuntime(runtime: Runtime<ExtractClients>): ExtractRuntime {
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
