import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPgSourceReader } from '../../src/db/source-reader';
import type { ChangeSet } from '../../src/stages/extract/ports';
import { insertAddress, createSourceDatabase, parseSourceCsv, type SourceDatabase } from '../stages/extract/fixtures';

let source: SourceDatabase;

beforeAll(async () => {
  source = await createSourceDatabase();
});

afterAll(async () => {
  await source.close();
});

beforeEach(async () => {
  await source.pool.query('TRUNCATE address, payment');
});

/** Every chunk of a change set: its CSV as text and its row count, in the order read. */
async function readChunks(changes: ChangeSet): Promise<{ csv: string[]; chunkRows: number[] }> {
  const csv: string[] = [];
  const chunkRows: number[] = [];
  for await (const chunk of changes.chunks()) {
    csv.push(Buffer.concat(chunk.csv).toString('utf8'));
    chunkRows.push(chunk.rows);
  }
  return { csv, chunkRows };
}

async function readAll(query: Parameters<ReturnType<typeof createPgSourceReader>['withChanges']>[1], table: 'address' | 'payment' = 'address') {
  return createPgSourceReader(source.pool).withChanges(table, query, async (changes) => ({ changes, ...(await readChunks(changes)) }));
}

/** Address ids of each chunk, each sorted: a run's rows come in no particular order. */
function idsPerChunk(csv: readonly string[]): string[][] {
  return csv.map((chunk) => parseSourceCsv(chunk).map((row) => row.address_id ?? '').sort());
}

describe('createPgSourceReader', () => {
  it('writes PostgreSQL CSV that round-trips quotes, commas, newlines, emoji, NULL and the empty string', async () => {
    // prepare
    const awkward = 'O\'Keefe, "Frami, Yundt and Macejkovic"\nline two 🎉';
    await insertAddress(source.pool, 1, '2024-11-20 16:25:45.036123', { address_line_1: awkward, address_line_2: '', district: null });

    // act
    const { csv } = await readAll({ after: null, exclude: [], maxRowsPerChunk: 10 });

    // assert
    expect(csv[0]?.split('\n')[0]).toBe('address_id,address_line_1,address_line_2,district,city,postal_code,country,phone,created_at,last_updated');
    expect(parseSourceCsv(csv[0] ?? '')).toEqual([
      {
        address_id: '1',
        address_line_1: awkward,
        address_line_2: '',
        district: null,
        city: 'Leeds',
        postal_code: 'LS1 1AA',
        country: 'United Kingdom',
        phone: '0113 000000',
        created_at: '2024-11-20 16:25:45.036123',
        last_updated: '2024-11-20 16:25:45.036123',
      },
    ]);
  });

  it('keeps numerics exact and timestamps at full precision whatever the session settings', async () => {
    // prepare
    await source.pool.query(
      `INSERT INTO payment VALUES (1, '2024-11-20 16:25:45.036123', '2024-11-20 16:25:45.036123', 1, 1, 123456789012.10, 1, 1, true, '2024-11-21', 1, 2)`,
    );
    await source.pool.query("ALTER DATABASE " + `"${source.db.name}"` + " SET DateStyle = 'SQL, DMY'");
    await source.pool.query("ALTER DATABASE " + `"${source.db.name}"` + ' SET extra_float_digits = -15');

    // act
    const { changes, csv } = await readAll({ after: null, exclude: [], maxRowsPerChunk: 10 }, 'payment');

    // assert
    const [row] = parseSourceCsv(csv[0] ?? '');
    expect(row).toMatchObject({ payment_amount: '123456789012.10', last_updated: '2024-11-20 16:25:45.036123', paid: 't', payment_date: '2024-11-21' });
    expect(changes.maxLastUpdated).toBe('2024-11-20 16:25:45.036123');
    await source.pool.query(`ALTER DATABASE "${source.db.name}" RESET ALL`);
  });

  it('reads only rows after the bound, minus the excluded versions, and reports their versions', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:00:00.000000');
    await insertAddress(source.pool, 2, '2024-11-20 16:10:00.000001');
    await insertAddress(source.pool, 3, '2024-11-20 16:10:00.000002');
    await insertAddress(source.pool, 4, '2024-11-20 16:20:00.000000');

    // act
    const result = await createPgSourceReader(source.pool).withChanges(
      'address',
      { after: '2024-11-20 16:00:00.000000', exclude: [{ id: 2, lastUpdated: '2024-11-20 16:10:00.000001' }, { id: 4, lastUpdated: '2024-11-20 15:00:00.000000' }], maxRowsPerChunk: 1 },
      async (changes) => {
        const { csv, chunkRows } = await readChunks(changes);
        return { csv, chunkRows, maxLastUpdated: changes.maxLastUpdated, versions: await changes.versionsAfter('2024-11-20 16:10:00.000001', 10) };
      },
    );

    // assert: row 4's exclusion names another version, so its current version is still read
    expect(result.chunkRows).toEqual([1, 1]);
    expect(idsPerChunk(result.csv).flat().sort()).toEqual(['3', '4']);
    expect(result.maxLastUpdated).toBe('2024-11-20 16:20:00.000000');
    expect(result.versions).toEqual([
      { id: 4, lastUpdated: '2024-11-20 16:20:00.000000' },
      { id: 3, lastUpdated: '2024-11-20 16:10:00.000002' },
    ]);
  });

  it('cuts one read into chunks of at most maxRowsPerChunk rows, each with the header, quoted line breaks and all', async () => {
    // prepare: line breaks and quotes inside values, which must not end a record
    for (let id = 1; id <= 7; id += 1) {
      await insertAddress(source.pool, id, `2024-11-20 16:0${id}:00`, { address_line_1: `"${id}" Mill Lane,\nUnit ${id}\r\n` });
    }

    // act
    const { csv, chunkRows, changes } = await readAll({ after: null, exclude: [], maxRowsPerChunk: 3 });

    // assert
    expect(chunkRows).toEqual([3, 3, 1]);
    for (const chunk of csv) expect(chunk.split('\n')[0]).toBe('address_id,address_line_1,address_line_2,district,city,postal_code,country,phone,created_at,last_updated');
    expect(idsPerChunk(csv).map((ids) => ids.length)).toEqual([3, 3, 1]);
    expect(idsPerChunk(csv).flat().sort()).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(parseSourceCsv(csv.join('')).filter((row) => row.address_id !== 'address_id').map((row) => row.address_line_1)).toContain('"4" Mill Lane,\nUnit 4\r\n');
    expect(changes.maxLastUpdated).toBe('2024-11-20 16:07:00.000000');
  });

  it('reports an empty set as no newest version and no chunks', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:00:00');

    // act
    const { csv, changes } = await readAll({ after: '2024-11-20 16:00:00.000000', exclude: [], maxRowsPerChunk: 3 });

    // assert
    expect(changes.maxLastUpdated).toBeNull();
    expect(csv).toEqual([]);
  });

  it('reads the whole set from one snapshot, even when rows change while it is read', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:00:00');
    await insertAddress(source.pool, 2, '2024-11-20 16:01:00');

    // act: the changes land after the newest version was read and before the COPY
    const result = await createPgSourceReader(source.pool).withChanges('address', { after: null, exclude: [], maxRowsPerChunk: 1 }, async (changes) => {
      await insertAddress(source.pool, 3, '2024-11-20 16:00:30');
      await source.pool.query("UPDATE address SET last_updated = '2024-11-20 17:00:00' WHERE address_id = 2");
      const { csv } = await readChunks(changes);
      const versions = csv.flatMap((chunk) => parseSourceCsv(chunk).map((row) => `${row.address_id}@${row.last_updated}`));
      return { versions: versions.sort(), newest: changes.maxLastUpdated };
    });

    // assert
    expect(result.versions).toEqual(['1@2024-11-20 16:00:00', '2@2024-11-20 16:01:00']);
    expect(result.newest).toBe('2024-11-20 16:01:00.000000');
  });

  it('names the table when the query fails, and frees the connection', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:00:00');
    await source.pool.query('ALTER TABLE address RENAME COLUMN city TO town');

    // act
    const read = readAll({ after: null, exclude: [], maxRowsPerChunk: 10 });

    // assert
    await expect(read).rejects.toThrow(/cannot read address from the source database/);
    await source.pool.query('ALTER TABLE address RENAME COLUMN town TO city');
    expect(source.pool.totalCount - source.pool.idleCount).toBe(0);
  });
});
