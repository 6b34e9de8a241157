import { InvalidArgumentError } from 'commander';
import { createAwsClients, type AwsClients } from '../aws/clients';
import { cliEnvironment } from '../config';
import type { QueueId } from '../local/stack-model';
import { resolveOperatorStack, type OperatorStack } from '../ops/stack';

/**
 * The operator commands' connection to a stage: AWS through the standard credential chain, or a
 * local emulator when AWS_ENDPOINT_URL is set (the stack provisioned by `totes up`/`totes run`).
 * TOTES_STAGE picks the stage (default `local`).
 */
export async function withOperatorStack<T>(work: (clients: AwsClients, stack: OperatorStack) => Promise<T>): Promise<T> {
  const env = cliEnvironment();
  const clients = createAwsClients({ region: env.region, ...(env.awsEndpoint ? { endpoint: env.awsEndpoint } : {}) });
  try {
    return await work(clients, await resolveOperatorStack(clients, { stage: env.stage, endpoint: env.awsEndpoint }));
  } finally {
    for (const client of [clients.s3, clients.sqs, clients.dynamo, clients.secrets]) client.destroy();
  }
}

/** `<transform|load>`, validated once for every command that names a queue. */
export function queueArgument(raw: string): QueueId {
  if (raw === 'transform' || raw === 'load') return raw;
  throw new InvalidArgumentError('expected transform or load');
}

export const ENVIRONMENT_HELP =
  '\nTargets the stage named by TOTES_STAGE (default local): AWS with the standard credential chain (AWS_PROFILE, AWS_REGION),\nor the local stack when AWS_ENDPOINT_URL is set (see totes up).';
