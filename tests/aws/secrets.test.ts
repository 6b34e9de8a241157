import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients';
import { clearSecretCache, createCachedSecretReader } from '../../src/aws/secrets';
import { testAwsSettings, uniqueName } from '../support/aws';

const { secrets } = createAwsClients(testAwsSettings());
const valid = { host: 'db.example.com', port: 5432, username: 'etl', password: 'p4ss"w0rd', dbname: 'totesys', engine: 'postgres' };

async function createSecret(value: string): Promise<string> {
  const name = uniqueName('secret');
  await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  return name;
}

beforeEach(() => {
  clearSecretCache();
});

describe('createCachedSecretReader', () => {
  it('reads and validates an RDS-shaped secret, ignoring extra fields', async () => {
    // prepare
    const id = await createSecret(JSON.stringify({ ...valid, port: '5433', ssl: true }));

    // act
    const credentials = await createCachedSecretReader(secrets).readDbCredentials(id);

    // assert
    expect(credentials).toEqual({ host: 'db.example.com', port: 5433, username: 'etl', password: 'p4ss"w0rd', dbname: 'totesys', ssl: true });
  });

  it('serves warm invocations from the cache until the TTL passes', async () => {
    // prepare
    let clock = 0;
    const id = await createSecret(JSON.stringify(valid));
    const reader = createCachedSecretReader(secrets, { ttlMs: 1000, now: () => clock });
    await reader.readDbCredentials(id);
    await secrets.send(new PutSecretValueCommand({ SecretId: id, SecretString: JSON.stringify({ ...valid, password: 'rotated' }) }));

    // act
    const cached = await reader.readDbCredentials(id);
    clock = 1001;
    const refreshed = await reader.readDbCredentials(id);

    // assert
    expect(cached.password).toBe(valid.password);
    expect(refreshed.password).toBe('rotated');
  });

  it('names a missing secret', async () => {
    // prepare
    const id = uniqueName('absent');

    // act / assert
    await expect(createCachedSecretReader(secrets).readDbCredentials(id)).rejects.toThrow(`secret ${id} does not exist`);
  });

  it('rejects a malformed secret naming the fields, never echoing the value', async () => {
    // prepare
    const notJson = await createSecret('password=hunter2');
    const incomplete = await createSecret(JSON.stringify({ host: 'h', port: 'x', username: 'u', password: 'hunter2' }));
    const reader = createCachedSecretReader(secrets);

    // act
    const errors = await Promise.all(
      [notJson, incomplete].map((id) => reader.readDbCredentials(id).then(() => undefined, (error: unknown) => error as Error)),
    );

    // assert
    expect(errors[0]?.message).toBe(`secret ${notJson} is not JSON (expected {"host","port","username","password","dbname"})`);
    expect(errors[1]?.message).toBe(`secret ${incomplete} is malformed: missing or invalid port, dbname`);
    for (const error of errors) {
      expect(JSON.stringify({ message: error?.message, cause: String(error?.cause) })).not.toContain('hunter2');
    }
  });
});
