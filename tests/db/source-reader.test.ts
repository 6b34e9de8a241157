import { text } from 'node:stream/consumers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPgSourceReader } from '../../src/db/source-reader';
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

async function readAll(query: Parameters<ReturnType<typeof createPgSourceReader>['withChanges']>[1], table: 'address' | 'payment' = 'address') {
  return createPgSourceReader(source.pool).withChanges(table, query, async (changes) => {
    const csv: string[] = [];
    for (const [index] of changes.chunkRows.entries()) csv.push(await text(await changes.chunkCsv(index)));
    return { changes, csv };
  });
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
      async (changes) => ({
        rows: changes.rows,
        chunkRows: changes.chunkRows,
        versions: await changes.versionsAfter('2024-11-20 16:10:00.000001', 10),
        csv: [await text(await changes.chunkCsv(0)), await text(await changes.chunkCsv(1))],
      }),
    );

    // assert: row 4's exclusion names another version, so its current version is still read
    expect(result.rows).toBe(2);
    expect(result.chunkRows).toEqual([1, 1]);
    expect(result.csv.map((csv) => parseSourceCsv(csv).map((row) => row.address_id))).toEqual([['3'], ['4']]);
    expect(result.versions).toEqual([
      { id: 4, lastUpdated: '2024-11-20 16:20:00.000000' },
      { id: 3, lastUpdated: '2024-11-20 16:10:00.000002' },
    ]);
  });

  it('serves every chunk from one snapshot, even when rows change mid-read', async () => {
    // prepare
    await insertAddress(source.pool, 1, '2024-11-20 16:00:00');
    await insertAddress(source.pool, 2, '2024-11-20 16:01:00');

    // act
    const ids = await createPgSourceReader(source.pool).withChanges('address', { after: null, exclude: [], maxRowsPerChunk: 1 }, async (changes) => {
      const first = await text(await changes.chunkCsv(0));
      await insertAddress(source.pool, 3, '2024-11-20 16:00:30');
      await source.pool.query("UPDATE address SET last_updated = '2024-11-20 17:00:00' WHERE address_id = 2");
      const second = await text(await changes.chunkCsv(1));
      return [first, second].flatMap((csv) => parseSourceCsv(csv).map((row) => `${row.address_id}@${row.last_updated}`));
    });

    // assert
    expect(ids).toEqual(['1@2024-11-20 16:00:00', '2@2024-11-20 16:01:00']);
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
