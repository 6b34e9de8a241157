import { createDynamoClient, createS3Client, type AwsClients } from '../../aws/clients';
import type { AwsSettings } from '../../aws/config';
import { DynamoStateStore } from '../../aws/dynamo-state-store';
import { S3ObjectStore } from '../../aws/s3-object-store';
import type { TransformDeps } from '../../stages/transform';
import { loggerFor, type Runtime } from './runtime';

/** S3 for both buckets, DynamoDB for the source state and the failure journal; no database. */
export type TransformClients = Pick<AwsClients, 's3' | 'dynamo'>;

export function transformClients(settings: AwsSettings): TransformClients {
  return { s3: createS3Client(settings), dynamo: createDynamoClient(settings) };
}

export function transformDeps(runtime: Runtime<TransformClients>): TransformDeps {
  return {
    ingestion: new S3ObjectStore(runtime.clients.s3, runtime.config.INGESTION_BUCKET),
    processed: new S3ObjectStore(runtime.clients.s3, runtime.config.PROCESSED_BUCKET),
    state: new DynamoStateStore(runtime.clients.dynamo, runtime.config.STATE_TABLE),
    logger: loggerFor(runtime, 'transform'),
  };
}
