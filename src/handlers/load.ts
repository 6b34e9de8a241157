import { awsSettingsFromEnv } from '../aws/config';
import { handlerConfig } from '../config';
import { loadObject } from '../stages/load';
import { backOffWaitingFacts, loadClients, loadDeps, type LoadClients } from './deps/load';
import { allFailureHooks, recordFailures, type Runtime } from './deps/runtime';
import { onFirstUse } from './runtime/cold-start';
import { createObjectConsumerHandler, type ObjectConsumer } from './runtime/sqs-objects';

/** Triggered by the load queue: each Parquet object is applied to the warehouse in one transaction. */
export function createLoadHandler(getRuntime: () => Promise<Runtime<LoadClients>>) {
  return createObjectConsumerHandler(
    onFirstUse(async (): Promise<ObjectConsumer> => {
      const runtime = await getRuntime();
      const deps = await loadDeps(runtime);
      return {
        logger: deps.logger,
        bucket: runtime.config.PROCESSED_BUCKET,
        process: (key, delivery) => loadObject({ key, redelivered: delivery.receiveCount > 1 }, deps),
        onFailure: allFailureHooks(recordFailures(runtime, 'load'), backOffWaitingFacts(runtime)),
      };
    }),
  );
}

const aws = awsSettingsFromEnv();
export const handler = createLoadHandler(async () => ({ config: handlerConfig(), aws, clients: loadClients(aws) }));
