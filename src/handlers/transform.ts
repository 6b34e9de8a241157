import { awsSettingsFromEnv } from '../aws/config';
import { handlerConfig } from '../config';
import { transformObject } from '../stages/transform';
import { recordFailures, type Runtime } from './deps/runtime';
import { transformClients, transformDeps, type TransformClients } from './deps/transform';
import { onFirstUse } from './runtime/cold-start';
import { createObjectConsumerHandler, type ObjectConsumer } from './runtime/sqs-objects';

/** Triggered by the transform queue: each ingestion CSV becomes Parquet for the tables it feeds. */
export function createTransformHandler(getRuntime: () => Promise<Runtime<TransformClients>>) {
  return createObjectConsumerHandler(
    onFirstUse(async (): Promise<ObjectConsumer> => {
      const runtime = await getRuntime();
      const deps = transformDeps(runtime);
      return {
        logger: deps.logger,
        bucket: runtime.config.INGESTION_BUCKET,
        process: (key) => transformObject({ key }, deps),
        onFailure: recordFailures(runtime, 'transform'),
      };
    }),
  );
}

const aws = awsSettingsFromEnv();
export const handler = createTransformHandler(async () => ({ config: handlerConfig(), aws, clients: transformClients(aws) }));
