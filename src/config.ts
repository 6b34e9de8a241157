import * as z from 'zod';
import { defaultExtractSettings } from './stages/extract/settings';

/**
 * Environment configuration, validated once. Handlers read the deployed resource names that
 * serverless.yml sets; the CLI reads the operator's settings. Nothing else reads process.env.
 */
const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((value) => value === 'true' || value === '1');

const HandlerEnv = z.object({
  INGESTION_BUCKET: z.string().min(1),
  PROCESSED_BUCKET: z.string().min(1),
  WATERMARK_TABLE: z.string().min(1),
  STATE_TABLE: z.string().min(1),
  /** The failure journal (`totes dlq list` reads it); empty: failures are only logged. */
  FAILURES_TABLE: z.string().default(''),
  TOTESYS_SECRET_ID: z.string().min(1),
  WAREHOUSE_SECRET_ID: z.string().min(1),
  LATE_COMMIT_WINDOW_SECONDS: positiveInt(defaultExtractSettings.lateCommitWindowSeconds),
  MAX_ROWS_PER_OBJECT: positiveInt(defaultExtractSettings.maxRowsPerObject),
  EXTRACT_LEASE_SECONDS: positiveInt(900),
  LOG_LEVEL: z
    .string()
    .default('info')
    .transform((level) => level.toLowerCase())
    .pipe(z.enum(['debug', 'info', 'warn', 'error'])),
  DB_TLS: flag,
  TOTES_STAGE: z.string().min(1).default('dev'),
  METRICS_NAMESPACE: z.string().min(1).default('totes'),
  /** The load queue, for backing off a message whose fact waits for a dimension. */
  LOAD_QUEUE_URL: z.string().default(''),
  LOAD_RETRY_BASE_SECONDS: positiveInt(10),
});
export type HandlerConfig = z.infer<typeof HandlerEnv>;

/** Reads the handler configuration; a missing variable is a deployment bug, named in the error. */
export function handlerConfig(env: NodeJS.ProcessEnv = process.env): HandlerConfig {
  const parsed = HandlerEnv.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`invalid handler environment: ${problems}`);
  }
  return parsed.data;
}

/** The operator's settings for the CLI and the local runtime. */
export interface CliEnvironment {
  readonly totesysDbUrl?: string;
  readonly warehouseDbUrl?: string;
  readonly awsEndpoint?: string;
  readonly region: string;
  readonly stage: string;
}

export function cliEnvironment(env: NodeJS.ProcessEnv = process.env): CliEnvironment {
  const value = (name: string) => {
    const raw = env[name]?.trim();
    return raw ? raw : undefined;
  };
  return {
    totesysDbUrl: value('TOTESYS_DB_URL'),
    warehouseDbUrl: value('WAREHOUSE_DB_URL'),
    awsEndpoint: value('AWS_ENDPOINT_URL'),
    region: value('AWS_REGION') ?? 'eu-west-2',
    stage: value('TOTES_STAGE') ?? 'local',
  };
}
