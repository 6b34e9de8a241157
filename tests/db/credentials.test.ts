import { describe, expect, it } from 'vitest';
import { createLazyPool, credentialsFromUrl, pgPoolConfig } from '../../src/db/credentials';
import { TEST_PG_ADMIN_URL } from '../support/pg';

describe('credentialsFromUrl', () => {
  it('parses a URL into the RDS secret shape, decoding the password and reading sslmode', () => {
    // act
    const credentials = credentialsFromUrl('postgres://etl:p%40ss%2Fword@db.example.com:6543/totesys?sslmode=require');

    // assert
    expect(credentials).toEqual({ host: 'db.example.com', port: 6543, username: 'etl', password: 'p@ss/word', dbname: 'totesys', ssl: true });
    expect(credentialsFromUrl('postgresql://u@h/d')).toEqual({ host: 'h', port: 5432, username: 'u', password: '', dbname: 'd' });
  });

  it('rejects a bad URL without echoing it', () => {
    // act / assert
    expect(() => credentialsFromUrl('not a url secret123')).toThrow(/^database URL is not a valid URL/);
    expect(() => credentialsFromUrl('mysql://u:secret123@h/d')).toThrow(/must start with postgres/);
    expect(() => credentialsFromUrl('postgres://u:secret123@h/')).not.toThrow(/secret123/);
  });
});

describe('pgPoolConfig', () => {
  const credentials = { host: 'h', port: 5432, username: 'u', password: 'p', dbname: 'd' };

  it('verifies the certificate whenever TLS is on', () => {
    // act / assert
    expect(pgPoolConfig(credentials).ssl).toBe(false);
    expect(pgPoolConfig({ ...credentials, ssl: true }).ssl).toEqual({ rejectUnauthorized: true });
    expect(pgPoolConfig(credentials, { ssl: { ca: 'PEM' } }).ssl).toEqual({ rejectUnauthorized: true, ca: 'PEM' });
    expect(pgPoolConfig({ ...credentials, ssl: true }, { ssl: false }).ssl).toBe(false);
  });

  it('returns timestamps, numerics and bigints as exact text', async () => {
    // prepare
    const pool = createLazyPool(async () => pgPoolConfig(credentialsFromUrl(TEST_PG_ADMIN_URL)));

    // act
    const { rows } = await (await pool.get()).query(
      "SELECT '2024-11-20 16:25:45.036123'::timestamp AS ts, 123456789012345.10::numeric AS amount, 9007199254740993::int8 AS big, 7 AS small",
    );
    await pool.end();

    // assert
    expect(rows[0]).toEqual({ ts: '2024-11-20 16:25:45.036123', amount: '123456789012345.10', big: '9007199254740993', small: 7 });
  });

  it('retries building the pool after a failed first attempt', async () => {
    // prepare
    let attempts = 0;
    const pool = createLazyPool(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('secret not there yet');
      return pgPoolConfig(credentialsFromUrl(TEST_PG_ADMIN_URL));
    });

    // act
    const first = await pool.get().catch((error: unknown) => error);
    const second = await pool.get();
    const again = await pool.get();
    await pool.end();

    // assert
    expect(first).toBeInstanceOf(Error);
    expect(second).toBe(again);
  });
});
