import pg from 'pg';
import { TotesError } from '../errors';

/**
 * The dashboard's only way into the warehouse: a small pool whose sessions default to read-only
 * with a statement timeout, and every query inside its own `BEGIN READ ONLY` transaction — two
 * independent guards, so a mistake in one query string cannot write or hold the database.
 */
export interface WarehouseReaderOptions {
  readonly url: string;
  /** Longest a dashboard query may run (default 10 s). */
  readonly statementTimeoutMs?: number;
  readonly maxConnections?: number;
}

export class WarehouseReader {
  private readonly pool: pg.Pool;

  constructor(private readonly options: WarehouseReaderOptions) {
    const timeout = Math.max(1, Math.floor(options.statementTimeoutMs ?? 10_000));
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 4,
      // Session settings applied at connect time, before any query of ours runs.
      options: `-c default_transaction_read_only=on -c statement_timeout=${timeout}`,
      application_name: 'totes-dashboard',
      connectionTimeoutMillis: 5_000,
    });
    // An idle client's connection dying (database restart) must not crash the server.
    this.pool.on('error', () => undefined);
  }

  /** Runs one parameterised query in a read-only transaction and returns its rows. */
  async query<T extends pg.QueryResultRow>(sql: string, values: readonly unknown[] = []): Promise<T[]> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (cause) {
      throw new TotesError(`cannot connect to the warehouse database ${describeUrl(this.options.url)}`, { context: { stage: 'cli' }, retryable: true, cause });
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN READ ONLY');
      try {
        const result = await client.query<T>(sql, [...values]);
        await client.query('COMMIT');
        return result.rows;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      }
    } catch (cause) {
      throw new TotesError(`warehouse query failed: ${cause instanceof Error ? cause.message : String(cause)}`, { context: { stage: 'cli' }, cause });
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The URL without its password, for messages. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(unparseable database URL)';
  }
}
