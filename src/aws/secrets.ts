import { GetSecretValueCommand, ResourceNotFoundException, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DbCredentialsSchema, type DbCredentials } from '../db/credentials';
import { TotesError } from '../errors';

const DEFAULT_TTL_MS = 5 * 60 * 1000;

/**
 * Module level, so warm Lambda invocations reuse credentials instead of calling Secrets Manager
 * on every tick. The TTL lets a rotated secret take effect without a redeploy.
 */
const cache = new Map<string, { readonly expiresAt: number; readonly credentials: DbCredentials }>();

/** Forgets every cached secret (tests, or after a connection fails with bad credentials). */
export function clearSecretCache(): void {
  cache.clear();
}

export interface SecretReaderOptions {
  readonly ttlMs?: number;
  readonly now?: () => number;
}

export interface SecretReader {
  /** Reads and validates a database secret. Never logs or echoes the secret's value. */
  readDbCredentials(secretId: string): Promise<DbCredentials>;
}

export function createCachedSecretReader(client: SecretsManagerClient, options: SecretReaderOptions = {}): SecretReader {
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const now = options.now ?? Date.now;
  return {
    async readDbCredentials(secretId) {
      const cached = cache.get(secretId);
      if (cached && cached.expiresAt > now()) return cached.credentials;
      const credentials = parseSecret(secretId, await fetchSecretString(client, secretId));
      cache.set(secretId, { expiresAt: now() + ttlMs, credentials });
      return credentials;
    },
  };
}

async function fetchSecretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  let secretString: string | undefined;
  try {
    secretString = (await client.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString;
  } catch (error) {
    if (error instanceof ResourceNotFoundException || (error instanceof Error && error.name === 'ResourceNotFoundException')) {
      throw new TotesError(`secret ${secretId} does not exist`, { retryable: false, cause: error });
    }
    throw new TotesError(`cannot read secret ${secretId}`, { retryable: true, cause: error });
  }
  if (secretString === undefined) throw new TotesError(`secret ${secretId} has no SecretString (binary secrets are not supported)`);
  return secretString;
}

function parseSecret(secretId: string, secretString: string): DbCredentials {
  let json: unknown;
  try {
    json = JSON.parse(secretString);
  } catch {
    // No cause: JSON.parse's message quotes the text it choked on, which is the secret.
    throw new TotesError(`secret ${secretId} is not JSON (expected {"host","port","username","password","dbname"})`);
  }
  const parsed = DbCredentialsSchema.safeParse(json);
  if (!parsed.success) {
    // Field names only: zod issues can carry the received values.
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(root)'))].join(', ');
    throw new TotesError(`secret ${secretId} is malformed: missing or invalid ${fields}`);
  }
  return parsed.data;
}
