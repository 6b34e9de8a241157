import { PassThrough } from 'node:stream';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { TotesError } from '../errors';
import { quoteIdent } from '../schemas/columns';
import { normaliseSourceTimestamp } from '../schemas/keys';
import { sourceIdColumn, sourceTable, type SourceTableName } from '../schemas/source';
import type { ChangeQuery, ChangeSet, CsvChunk, RowVersion, SourceReader } from '../stages/extract/ports';
import type { BlockPool } from './byte-blocks';
import { CsvChunker, createChunkMemory } from './csv-chunks';

/** A ready pool, or a factory that builds one on first use (so a missing secret fails one tick, not the cold start). */
export type PoolProvider = pg.Pool | (() => Promise<pg.Pool>);

/**
 * Reads a table's changes in one `REPEATABLE READ READ ONLY` transaction, so the newest version,
 * the COPY and the versions remembered for the next run see the same snapshot.
 *
 * COPY accepts no bind parameters, so every value (the lower bound and the excluded versions) is
 * bound to `set_config(…, is_local => true)` and the fixed COPY text reads it back with
 * `current_setting`. No value is ever spliced into SQL; identifiers come from
 * src/schemas and are quoted.
 */
export function createPgSourceReader(pool: PoolProvider): SourceReader {
  const getPool = typeof pool === 'function' ? pool : async () => pool;
  // One pool for every table this reader reads: a warm function reuses the last run's blocks.
  const chunkMemory = createChunkMemory();
  return {
    async withChanges(table, query, work) {
      const client = await connect(table, getPool);
      // The pool listens for a dropped connection only while the client is idle. Checked out, a
      // server restart or pg_terminate_backend emits 'error' on the client, which unheard would
      // crash the process and every other table's extract with it; the query in progress (or
      // the next one) fails on its own and fails just this table.
      const ignoreConnectionError = () => undefined;
      client.on('error', ignoreConnectionError);
      try {
        const changes = await openChangeSet(client, table, query, chunkMemory);
        const result = await work(changes);
        await sourceQuery(client, table, 'COMMIT');
        client.off('error', ignoreConnectionError);
        client.release();
        return result;
      } catch (error) {
        // Destroy rather than ROLLBACK: a half-read COPY stream would block a ROLLBACK forever,
        // and closing the connection ends the transaction anyway. The listener stays: a dying
        // connection may still report its end.
        client.release(true);
        throw error;
      }
    },
  };
}

async function connect(table: SourceTableName, getPool: () => Promise<pg.Pool>): Promise<pg.PoolClient> {
  try {
    return await (await getPool()).connect();
  } catch (error) {
    throw new TotesError(`cannot connect to the source database to read ${table}`, { context: { stage: 'extract', table }, retryable: true, cause: error });
  }
}

/** A failed read of `table`, retryable, naming the table (and what went wrong, where pg's error does not say). */
function readFailure(table: SourceTableName, cause: unknown, detail?: string): TotesError {
  return new TotesError(`cannot read ${table} from the source database${detail ? `: ${detail}` : ''}`, { context: { stage: 'extract', table }, retryable: true, cause });
}

async function sourceQuery<R extends pg.QueryResultRow>(client: pg.PoolClient, table: SourceTableName, text: string, values: unknown[] = []): Promise<R[]> {
  try {
    return (await client.query<R>(text, values)).rows;
  } catch (error) {
    throw readFailure(table, error);
  }
}

async function openChangeSet(client: pg.PoolClient, table: SourceTableName, query: ChangeQuery, chunkMemory: BlockPool): Promise<ChangeSet> {
  const definition = sourceTable(table);
  const relation = quoteIdent(definition.name);
  const id = `t.${quoteIdent(sourceIdColumn(definition))}`;
  const columns = definition.columns.map((column) => `t.${quoteIdent(column.name)}`).join(', ');
  const changed = `${relation} AS t
    WHERE t.last_updated > current_setting('totes.after')::timestamp
      AND NOT EXISTS (
        SELECT 1 FROM unnest(current_setting('totes.done_ids')::int[], current_setting('totes.done_versions')::timestamp[]) AS done(id, last_updated)
        WHERE done.id = ${id} AND done.last_updated = t.last_updated)`;

  await sourceQuery(client, table, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  // ISO output keeps timestamps at full precision (`2024-11-20 16:25:45.036123`) in CSV and text
  // casts; numerics are exact in COPY whatever extra_float_digits says.
  await sourceQuery(client, table, "SET LOCAL DateStyle = 'ISO, YMD'");
  await sourceQuery(client, table, "SELECT set_config('totes.after', $1, true), set_config('totes.done_ids', $2::int[]::text, true), set_config('totes.done_versions', $3::timestamp[]::text, true)", [
    query.after ?? '-infinity',
    query.exclude.map((version) => version.id),
    query.exclude.map((version) => version.lastUpdated),
  ]);

  // The newest version first: it is the watermark the run will advance to, and it tells an
  // unchanged table (the usual case, every few minutes) from a changed one without a COPY.
  const [newest] = await sourceQuery<{ last_updated: string }>(client, table, `SELECT t.last_updated::text AS last_updated FROM ${changed} ORDER BY t.last_updated DESC LIMIT 1`);
  // One read of the whole set, cut into objects as it arrives (CsvChunker). Cutting it on the
  // server instead cost a second pass over the table: a query for the key of every
  // maxRowsPerChunk-th row, then one keyset-bounded COPY per chunk. Without ORDER BY nothing is
  // sorted (ordering by (last_updated, id) cost an incremental sort of every row, a third more
  // than the read); no reader depends on the order of rows within a run, and the watermark is
  // the newest version, found above.
  const copySql = `COPY (SELECT ${columns} FROM ${changed}) TO STDOUT WITH (FORMAT csv, HEADER true)`;

  return {
    maxLastUpdated: newest ? normaliseSourceTimestamp(newest.last_updated) : null,
    async *chunks(): AsyncIterable<CsvChunk> {
      if (!newest) return;
      const copy = client.query(copyTo(copySql));
      // Through a PassThrough so a failure mid-COPY reaches the consumer as an error naming the
      // table, not as a bare pg error inside an S3 upload failure.
      const csv = new PassThrough();
      copy.on('error', (error) => csv.destroy(readFailure(table, error)));
      const chunker = new CsvChunker(query.maxRowsPerChunk, chunkMemory);
      for await (const bytes of copy.pipe(csv)) yield* chunker.push(bytes as Buffer);
      let last;
      try {
        last = chunker.end();
      } catch (error) {
        throw readFailure(table, error, (error as Error).message);
      }
      if (last) yield last;
    },
    async versionsAfter(afterTimestamp: string, limit: number): Promise<RowVersion[]> {
      const rows = await sourceQuery<{ id: number; last_updated: string }>(
        client,
        table,
        `SELECT ${id} AS id, t.last_updated::text AS last_updated FROM ${changed}
           AND t.last_updated > $1::timestamp ORDER BY t.last_updated DESC, ${id} DESC LIMIT $2`,
        [afterTimestamp, limit],
      );
      return rows.map((row) => ({ id: row.id, lastUpdated: normaliseSourceTimestamp(row.last_updated) }));
    },
  };
}
