import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { defaultWarehouseSchemaNames, warehouseDdl } from '../src/db/warehouse-ddl';
import { countWarehouseRows } from '../src/local/pipeline';
import { quoteIdent } from '../src/schemas/columns';
import { fileColumns, type WarehouseTableDef, warehouseTables } from '../src/schemas/warehouse';
import { adminQuery, urlFor } from './pg-admin';

export interface FloorResult {
  /** Star rows written, every table's. */
  readonly rows: number;
  readonly seconds: number;
  /** Seconds of every attempt, in order; `seconds` is the fastest. */
  readonly attemptsSeconds: readonly number[];
  /** COPY streams at once. */
  readonly streams: number;
}

/** As for the limit: the floor is the best the machine can do, so the fastest of several counts. */
export const FLOOR_ATTEMPTS = 3;

/**
 * The warehouse floor: less time than PostgreSQL itself needs, on this machine, to write the rows
 * of a finished initial load into the star schema the spec demands. The filled warehouse's 11
 * tables are copied into an empty one (binary COPY out, piped unparsed into binary COPY in, the
 * cheapest input PostgreSQL has), `streams` tables at a time, each table as soon as the
 * dimensions its foreign keys refer to are in. The empty warehouse has the spec's tables and
 * constraints only: each table's primary key, each fact's version key and every foreign key, no
 * index of the pipeline's own and none of its bookkeeping; the facts' surrogate keys are
 * generated again. The tables are logged, as a warehouse that must survive a crash needs (an
 * unlogged table is emptied by one). The foreign keys are declared but not checked: their per-row triggers are off
 * (`session_replication_role = replica`, as the load's one-pass COPY has them), and no check in
 * sets replaces them, as the load's does.
 *
 * So it is less than any correct load must do, and no pipeline can write the warehouse faster,
 * whatever it does before: reading the source, S3, CSV and Parquet all come on top. It bounds end
 * to end from below: a pipeline that cost nothing but this write would move
 * `sales orders / seconds`.
 *
 * The keys are in place before the rows, as they are in the pipeline's warehouse, which stays
 * live: analysts query it and loads of other objects run while one loads. A one-off restore into
 * an empty database can build them afterwards instead, as pg_restore does: at 1M sales orders
 * that took 4.1 s (2.8 s of COPY into bare tables, 1.3 s to build the keys) against 5.6 s, and
 * checking the foreign keys afterwards (ALTER TABLE … ADD FOREIGN KEY) 2.8 s more.
 */
export async function measureWarehouseFloor(adminUrl: string, filledWarehouseUrl: string, streams: number, attempts = FLOOR_ATTEMPTS): Promise<FloorResult> {
  const counts = new Map(Object.entries(await countWarehouseRows(filledWarehouseUrl)));
  const expected = [...counts.values()].reduce((total, rows) => total + rows, 0);
  const seconds: number[] = [];
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    const copied = await copyOnce(adminUrl, filledWarehouseUrl, counts, streams);
    // A floor that left rows behind would be no floor.
    if (copied.rows !== expected) throw new Error(`the warehouse floor wrote ${copied.rows} rows of ${expected}`);
    seconds.push(copied.seconds);
  }
  return { rows: expected, seconds: Math.min(...seconds), attemptsSeconds: seconds, streams };
}

/** One attempt into a fresh database, so no attempt finds the pages or statistics of another. */
async function copyOnce(adminUrl: string, sourceUrl: string, counts: ReadonlyMap<string, number>, streams: number): Promise<{ rows: number; seconds: number }> {
  const database = `totes_bench_floor_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  await adminQuery(adminUrl, `CREATE DATABASE ${quoteIdent(database)}`);
  try {
    const targetUrl = urlFor(adminUrl, database);
    await createSpecSchema(targetUrl);
    const started = performance.now();
    const rows = await copyTables(sourceUrl, targetUrl, counts, streams);
    return { rows, seconds: (performance.now() - started) / 1000 };
  } finally {
    await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`).catch(() => undefined);
  }
}

/** The star tables with the spec's keys and foreign keys: the pipeline's DDL without its indexes. */
async function createSpecSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // The default schemas: the filled warehouse's tables are read from public, as the bench loads them.
    const ddl = warehouseDdl(defaultWarehouseSchemaNames);
    // The bookkeeping tables stay empty; the DDL creates them with the star tables.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(defaultWarehouseSchemaNames.bookkeepingSchema)}`);
    for (const statement of ddl.tables) await client.query(statement);
    for (const constraint of ddl.constraints) {
      await client.query(`ALTER TABLE ${quoteIdent(constraint.table)} ADD CONSTRAINT ${quoteIdent(constraint.name)} ${constraint.definition}`);
    }
  } finally {
    await client.end();
  }
}

/** The tables a table's foreign keys refer to: they must be in before it. */
function prerequisites(table: WarehouseTableDef): Set<string> {
  return new Set(table.columns.flatMap((column) => (column.references && column.references.table !== table.name ? [column.references.table] : [])));
}

/**
 * `streams` lanes, each taking the largest table whose prerequisites are in, so the big facts
 * start as early as the foreign keys allow and the lanes finish close together.
 */
async function copyTables(sourceUrl: string, targetUrl: string, counts: ReadonlyMap<string, number>, streams: number): Promise<number> {
  const waiting = [...warehouseTables].sort((a, b) => (counts.get(b.name) ?? 0) - (counts.get(a.name) ?? 0));
  const done = new Set<string>();
  let rows = 0;
  // A lane waits here for another to finish a table (or to fail, which stops every lane).
  let failed = false;
  let wake: () => void = () => undefined;
  let changed = new Promise<void>((resolve) => (wake = resolve));
  const announce = () => {
    wake();
    changed = new Promise<void>((resolve) => (wake = resolve));
  };
  const lane = async () => {
    const source = new pg.Client({ connectionString: sourceUrl });
    const target = new pg.Client({ connectionString: targetUrl });
    try {
      await source.connect();
      await target.connect();
      // The foreign keys' per-row triggers off (the bench's role is a superuser): see above.
      await target.query('SET session_replication_role = replica');
      while (waiting.length > 0 && !failed) {
        const index = waiting.findIndex((table) => [...prerequisites(table)].every((name) => done.has(name)));
        if (index < 0) {
          await changed;
          continue;
        }
        const [table] = waiting.splice(index, 1);
        // Not `rows += await …`, which would read rows before the wait and lose the other lane's.
        const written = await copyTable(source, target, table!);
        rows += written;
        done.add(table!.name);
        announce();
      }
    } catch (error) {
      failed = true;
      announce();
      throw error;
    } finally {
      await source.end();
      await target.end();
    }
  };
  await Promise.all(Array.from({ length: streams }, lane));
  return rows;
}

/** Copies one table; returns the rows written. */
async function copyTable(source: pg.Client, target: pg.Client, table: WarehouseTableDef): Promise<number> {
  // Without the generated surrogate key, which the warehouse makes again as it does for the pipeline.
  const list = fileColumns(table).map((column) => quoteIdent(column.name)).join(', ');
  const reader = source.query(copyTo(`COPY (SELECT ${list} FROM ${quoteIdent(table.name)}) TO STDOUT WITH (FORMAT binary)`));
  const writer = target.query(copyFrom(`COPY ${quoteIdent(table.name)} (${list}) FROM STDIN WITH (FORMAT binary)`));
  await pipeline(reader, writer);
  return Number(writer.rowCount);
}
