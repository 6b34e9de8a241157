import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { createAwsClients, type AwsClients } from '../aws/clients';
import type { AwsSettings } from '../aws/config';
import { handlerConfig, type CliEnvironment, type HandlerConfig } from '../config';
import { credentialsFromUrl } from '../db/credentials';
import type { Logger } from '../stages/ports';
import { startEmbeddedPostgres, type RunningEmbeddedPostgres } from './embedded-postgres';
import { ensureMotoInstalled, startMoto, type RunningMoto } from './moto';
import { handlerEnvironment, provisionLocalStack, type StackOutputs } from './provision';

/** Where the embedded defaults keep their state between runs (git-ignored). */
export const DEFAULT_STATE_DIR = '.totes';

export interface LocalEnvironment {
  readonly totesysUrl: string;
  readonly warehouseUrl: string;
  readonly aws: AwsSettings;
  readonly clients: AwsClients;
  readonly outputs: StackOutputs;
  /** The configuration the handlers get, exactly as serverless.yml would set it for this stack. */
  readonly config: HandlerConfig;
  /** What was started for this process (and is stopped by close()). */
  readonly started: { readonly embeddedPostgres: boolean; readonly moto: boolean };
  close(): Promise<void>;
}

export interface LocalEnvironmentOptions {
  readonly env: CliEnvironment;
  readonly stateDir?: string;
  readonly log?: (line: string) => void;
  /** Local queues return a failed message within seconds instead of the deployed minutes. */
  readonly visibilityTimeoutSeconds?: number;
  readonly lateCommitWindowSeconds?: number;
  readonly maxRowsPerObject?: number;
  readonly logger?: Logger;
}

export interface LocalDatabases {
  readonly totesysUrl: string;
  readonly warehouseUrl: string;
  readonly embedded?: RunningEmbeddedPostgres;
}

/**
 * The databases: TOTESYS_DB_URL and WAREHOUSE_DB_URL when set, otherwise an embedded PostgreSQL
 * that holds both, kept in `<stateDir>/pg` between runs.
 */
export async function openDatabases(env: CliEnvironment, stateDir: string, log: (line: string) => void): Promise<LocalDatabases> {
  if (env.totesysDbUrl && env.warehouseDbUrl) return { totesysUrl: env.totesysDbUrl, warehouseUrl: env.warehouseDbUrl };
  const dataDir = resolve(stateDir, 'pg');
  await mkdir(dataDir, { recursive: true });
  log(`starting embedded PostgreSQL in ${dataDir}`);
  const embedded = await startEmbeddedPostgres({ dataDir });
  return {
    totesysUrl: env.totesysDbUrl ?? embedded.totesysUrl,
    warehouseUrl: env.warehouseDbUrl ?? embedded.warehouseUrl,
    embedded,
  };
}

/**
 * Everything the pipeline needs on a laptop: the databases, an AWS endpoint (AWS_ENDPOINT_URL,
 * or a moto_server started for this process), and the stack of infra/stack.cjs provisioned in
 * it, with the totesys and warehouse credentials in its Secrets Manager — so the handlers read
 * them exactly as they do on AWS.
 */
export async function openLocalEnvironment(options: LocalEnvironmentOptions): Promise<LocalEnvironment> {
  const log = options.log ?? (() => undefined);
  const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
  const databases = await openDatabases(options.env, stateDir, log);
  let moto: RunningMoto | undefined;
  try {
    let endpoint = options.env.awsEndpoint;
    if (!endpoint) {
      await ensureMotoInstalled(log);
      moto = await startMoto();
      endpoint = moto.endpoint;
      log(`started the AWS emulator (moto) at ${endpoint}`);
    }
    const aws: AwsSettings = { region: options.env.region, endpoint };
    const clients = createAwsClients(aws);
    const outputs = await provisionLocalStack(clients, {
      stage: options.env.stage,
      totesysCredentials: credentialsFromUrl(databases.totesysUrl),
      warehouseCredentials: credentialsFromUrl(databases.warehouseUrl),
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 5,
    });
    const config = handlerConfig({
      ...handlerEnvironment(outputs, {
        ...(options.lateCommitWindowSeconds === undefined ? {} : { lateCommitWindowSeconds: options.lateCommitWindowSeconds }),
        ...(options.maxRowsPerObject === undefined ? {} : { maxRowsPerObject: options.maxRowsPerObject }),
      }),
      LOAD_RETRY_BASE_SECONDS: '1',
    });
    return {
      totesysUrl: databases.totesysUrl,
      warehouseUrl: databases.warehouseUrl,
      aws,
      clients,
      outputs,
      config,
      started: { embeddedPostgres: Boolean(databases.embedded), moto: Boolean(moto) },
      close: async () => {
        await moto?.stop();
        await databases.embedded?.stop();
      },
    };
  } catch (error) {
    await moto?.stop();
    await databases.embedded?.stop();
    throw error;
  }
}
