import type { AwsClients } from '../../aws/clients';
import { createCachedSecretReader } from '../../aws/secrets';
import { createLazyPool, pgPoolConfig, type LazyPool } from '../../db/credentials';
import type { Runtime } from './runtime';

/**
 * The pool lives as long as the container, but the password is read per new connection (pg calls
 * the function each time) through the 5-minute secret cache: after a rotation, connections
 * already open keep working, and new ones use the new password once the cached one expires.
 * Only extract and load import this, so pg stays out of the transform's bundle.
 */
export function databasePool(runtime: Runtime<Pick<AwsClients, 'secrets'>>, secretId: string, applicationName: string): LazyPool {
  const secrets = createCachedSecretReader(runtime.clients.secrets);
  return createLazyPool(async () => ({
    ...pgPoolConfig(await secrets.readDbCredentials(secretId), { ssl: runtime.config.DB_TLS || undefined, applicationName }),
    password: async () => (await secrets.readDbCredentials(secretId)).password,
  }));
}
