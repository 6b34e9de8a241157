import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgSourceReader } from '../../src/db/source-reader';
import { TotesError } from '../../src/errors';
import type { ChangeSet, CsvChunk } from '../../src/stages/extract/ports';
import { TEST_PG_ADMIN_URL } from '../support/pg';
import { createSourceDatabase, insertAddress, type SourceDatabase } from '../stages/extract/fixtures';

/**
 * The source database restarting while the extract holds a connection: before the fix the
 * checked-out client's 'error' event had no listener, so the process died with an uncaught
 * exception (vitest reports it as an unhandled error and fails the run) instead of one table
 * failing with an error that names it.
 */
let source: SourceDatabase;

beforeAll(async () => {
  source = await createSourceDatabase();
  await insertAddress(source.pool, 1, '2024-11-20 16:25:45.036123');
});

afterAll(async () => {
  await source.close();
});

async function terminateOtherBackends(database: string): Promise<number> {
  const admin = new pg.Client({ connectionString: TEST_PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
    return rows.length;
  } finally {
    await admin.end();
  }
}

async function readChunks(changes: ChangeSet): Promise<CsvChunk[]> {
  const chunks: CsvChunk[] = [];
  for await (const chunk of changes.chunks()) chunks.push(chunk);
  return chunks;
}

describe('createPgSourceReader when the connection dies', () => {
  it('fails only the table being read, names it, and keeps the process alive', async () => {
    // prepare
    const reader = createPgSourceReader(source.pool);
    let terminated = 0;

    // act
    const read = reader.withChanges('address', { after: null, exclude: [], maxRowsPerChunk: 10 }, async (changes) => {
      const csv = await readChunks(changes);
      terminated = await terminateOtherBackends(source.db.name);
      // Let the server's goodbye arrive while the client is still checked out.
      await new Promise((resolve) => setTimeout(resolve, 200));
      return csv;
    });

    // assert
    await expect(read).rejects.toThrow(/cannot read address from the source database/);
    expect(terminated).toBeGreaterThan(0);
    const again = await reader.withChanges('address', { after: null, exclude: [], maxRowsPerChunk: 10 }, readChunks);
    expect(again.map((chunk) => chunk.rows)).toEqual([1]);
  });

  it('names the table when the connection dies in the middle of its COPY', async () => {
    // prepare: far more CSV than the socket buffers hold, so the server is still sending when it dies
    await source.pool.query(
      `INSERT INTO design (design_id, design_name, file_location, file_name, created_at, last_updated)
       SELECT n, repeat('d', 200), repeat('l', 200), repeat('f', 200), now(), now() FROM generate_series(1, 100000) AS n`,
    );
    const reader = createPgSourceReader(source.pool);
    let chunksRead = 0;

    // act
    const read = reader.withChanges('design', { after: null, exclude: [], maxRowsPerChunk: 1_000 }, async (changes) => {
      for await (const chunk of changes.chunks()) {
        chunksRead += 1;
        if (chunksRead === 1) await terminateOtherBackends(source.db.name);
        expect(chunk.rows).toBe(1_000);
      }
    });

    // assert: the COPY itself failed, before its last chunk
    const error = await read.then(() => undefined, (failure: unknown) => failure);
    expect(error).toBeInstanceOf(TotesError);
    expect((error as TotesError).message).toMatch(/cannot read design from the source database/);
    expect((error as TotesError).context.table).toBe('design');
    expect(chunksRead).toBeLessThan(100);
  });
});
