import pg from 'pg';
import * as z from 'zod';
import { TotesError } from '../errors';
import { exactTypes } from './pg-types';

/** Database credentials in the shape of an RDS Secrets Manager secret (docs/design.md, Secrets). */
export interface DbCredentials {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password: string;
  readonly dbname: string;
  readonly ssl?: boolean;
}

/** Validates a secret's JSON. RDS-managed secrets add fields (`engine`, …); they are ignored. */
export const DbCredentialsSchema = z.object({
  host: z.string().min(1),
  port: z.coerce.number().int().min(1).max(65535),
  username: z.string().min(1),
  password: z.string(),
  dbname: z.string().min(1),
  ssl: z.boolean().optional(),
});

const tlsSslModes = new Set(['require', 'verify-ca', 'verify-full']);

/**
 * Parses `postgres://user:password@host:port/dbname[?sslmode=require]` into credentials, so a
 * local URL and a deployed secret go through the same code.
 */
export function credentialsFromUrl(url: string): DbCredentials {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The URL holds a password: never echo it.
    throw new TotesError('database URL is not a valid URL (expected postgres://user:password@host:port/dbname)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new TotesError(`database URL must start with postgres:// (got ${parsed.protocol}//)`);
  }
  const dbname = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.hostname || !dbname || !parsed.username) {
    throw new TotesError('database URL must name a user, a host and a database (postgres://user:password@host:port/dbname)');
  }
  const sslMode = parsed.searchParams.get('sslmode');
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 5432,
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    dbname,
    ...(sslMode ? { ssl: tlsSslModes.has(sslMode) } : {}),
  };
}

export interface PoolOptions {
  /**
   * TLS: overrides the credentials' `ssl` flag. `{ ca }` pins a CA bundle (e.g. the RDS bundle);
   * the certificate is always verified when TLS is on.
   */
  readonly ssl?: boolean | { readonly ca?: string };
  readonly max?: number;
  readonly connectionTimeoutMillis?: number;
  readonly applicationName?: string;
}

/** A pg pool configuration: exact value types, bounded connect time, verified TLS. */
export function pgPoolConfig(credentials: DbCredentials, options: PoolOptions = {}): pg.PoolConfig {
  const ssl = options.ssl ?? credentials.ssl ?? false;
  return {
    host: credentials.host,
    port: credentials.port,
    user: credentials.username,
    password: credentials.password,
    database: credentials.dbname,
    // Never `rejectUnauthorized: false`: an unverified TLS connection to a database is a
    // credentials leak waiting for a man in the middle.
    ssl: ssl === false ? false : { rejectUnauthorized: true, ...(ssl === true || ssl.ca === undefined ? {} : { ca: ssl.ca }) },
    max: options.max ?? 2,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 10_000,
    application_name: options.applicationName ?? 'totes',
    types: exactTypes,
  };
}

/** A pool built on first use, so a handler's cold start does not fail when the database or secret is down. */
export interface LazyPool {
  get(): Promise<pg.Pool>;
  end(): Promise<void>;
}

/**
 * Memoises the pool across warm invocations; a failed build (missing secret, bad config) is not
 * memoised, so the next invocation tries again.
 */
export function createLazyPool(loadConfig: () => Promise<pg.PoolConfig>): LazyPool {
  let pending: Promise<pg.Pool> | undefined;
  return {
    get() {
      pending ??= loadConfig().then(
        (config) => {
          const pool = new pg.Pool(config);
          // An idle connection dropped by the server must not crash the process; the next
          // checkout simply opens a new one.
          pool.on('error', () => undefined);
          return pool;
        },
        (error: unknown) => {
          pending = undefined;
          throw error;
        },
      );
      return pending;
    },
    async end() {
      const current = pending;
      pending = undefined;
      if (current) await (await current.catch(() => undefined))?.end();
    },
  };
}
