import fc from 'fast-check';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlType } from '../../src/db/warehouse-ddl';
import { binaryRows, CopyValueError, writeBinaryCopy } from '../../src/db/warehouse-copy';
import { daysToDate, microsToTime, unscaledToDecimal } from '../../src/parquet/codec';
import { type ColumnDef, boolean, date, dateText, int, money, nullableInt, nullableText, quoteIdent, time, timestamp } from '../../src/schemas/columns';
import type { Row } from '../../src/schemas/rows';
import { warehouseTables } from '../../src/schemas/warehouse';
import { parquetColumnsFor } from '../../src/parquet/codec';
import { rowBatchesOf } from '../../src/stages/load';
import { createTestDatabase, type TestDatabase } from '../support/pg';

/**
 * PostgreSQL is the oracle: the same rows go in once through the binary COPY input and once as
 * JSON text through each type's own text input function, and the two tables must hold the same
 * values, compared as their text output (which shows a numeric's scale and every microsecond).
 */

let database: TestDatabase;
let client: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase('totes_copy');
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
});

afterAll(async () => {
  await client.end();
  await database.drop();
});

/** One column of every kind a warehouse file can have, plus the kinds only a source table has. */
const columns: ColumnDef[] = [
  int('n'),
  nullableInt('maybe_n'),
  nullableText('s'),
  money('price', 10),
  money('amount'),
  date('day'),
  time('at'),
  boolean('flag'),
  timestamp('stamp'),
  dateText('day_text'),
];

const MIN_DAY = -719_162; // 0001-01-01
const MAX_DAY = 2_932_896; // 9999-12-31
const MICROS_PER_DAY = 86_400_000_000;

const rowArbitrary: fc.Arbitrary<Row> = fc.record({
  n: fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
  maybe_n: fc.option(fc.integer({ min: -2_147_483_648, max: 2_147_483_647 })),
  s: fc.option(fc.string({ unit: 'grapheme', maxLength: 20 }).map((text) => text.replace(/\0/g, ''))),
  price: fc.bigInt({ min: -9_999_999_999n, max: 9_999_999_999n }).map((unscaled) => unscaledToDecimal(unscaled, 2)),
  amount: fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((unscaled) => unscaledToDecimal(unscaled, 2)),
  day: fc.integer({ min: MIN_DAY, max: MAX_DAY }).map(daysToDate),
  at: fc.integer({ min: 0, max: MICROS_PER_DAY }).map((micros) => microsToTime(BigInt(micros))),
  flag: fc.boolean(),
  stamp: fc.tuple(fc.integer({ min: MIN_DAY, max: MAX_DAY }), fc.integer({ min: 0, max: MICROS_PER_DAY - 1 })).map(([day, micros]) => `${daysToDate(day)} ${microsToTime(BigInt(micros))}`),
  day_text: fc.integer({ min: MIN_DAY, max: MAX_DAY }).map(daysToDate),
});

const edgeRows: Row[] = [
  { n: 0, maybe_n: null, s: '', price: '0.00', amount: '-0.01', day: '2000-01-01', at: '00:00:00.000000', flag: false, stamp: '2000-01-01 00:00:00.000000', day_text: '1999-12-31' },
  { n: -2_147_483_648, maybe_n: 2_147_483_647, s: null, price: '99999999.99', amount: '12345678.90', day: '0001-01-01', at: '23:59:59.999999', flag: true, stamp: '0001-01-01 00:00:00.000001', day_text: '2024-02-29' },
  { n: 7, maybe_n: -1, s: 'Flat "A", 1\nHigh St\t\\.', price: '-12345678.90', amount: '10000.00', day: '9999-12-31', at: '24:00:00.000000', flag: true, stamp: '9999-12-31 23:59:59.999999', day_text: '2024-11-20' },
  { n: 8, maybe_n: 0, s: 'Zürich "Ö" – 東京 🎒', price: '0.50', amount: '100000000000000000000000000000.00', day: '2024-02-29', at: '15:22:10.531518', flag: false, stamp: '2024-11-20 15:22:10.531518', day_text: '0001-01-01' },
];

/** `count` rows cycling through the edge rows, each with its own id and up to 300 characters of text: enough COPY input to fill blocks. */
function rowsWithText(count: number): Row[] {
  return Array.from({ length: count }, (_, index) => ({ ...edgeRows[index % edgeRows.length]!, n: index, s: `${index} ${'y'.repeat(index % 300)}` }));
}

async function createTable(name: string): Promise<void> {
  const definitions = columns.map((column) => `${quoteIdent(column.name)} ${sqlType(column)}`).join(', ');
  await client.query(`CREATE TEMP TABLE ${name} (${definitions})`);
}

async function copyBinary(table: string, batches: AsyncIterable<{ rowCount: number; values: ReadonlyArray<ArrayLike<Row[string] | undefined>> }>): Promise<void> {
  const names = columns.map((column) => quoteIdent(column.name)).join(', ');
  await writeBinaryCopy(client.query(copyFrom(`COPY ${table} (${names}) FROM STDIN (FORMAT binary)`)), columns, batches);
}

/** The rows each table holds and the other does not, as record text, counting duplicates. */
async function differences(): Promise<{ onlyBinary: string[]; onlyText: string[] }> {
  const only = async (left: string, right: string) =>
    (await client.query<{ row: string }>(`SELECT t::text AS row FROM ${left} t EXCEPT ALL SELECT t::text FROM ${right} t`)).rows.map((each) => each.row);
  return { onlyBinary: await only('via_binary', 'via_text'), onlyText: await only('via_text', 'via_binary') };
}

async function loadBothWays(rows: Row[], batchSize: number): Promise<void> {
  await client.query('DROP TABLE IF EXISTS via_binary, via_text');
  await createTable('via_binary');
  await createTable('via_text');
  await client.query('INSERT INTO via_text SELECT * FROM json_populate_recordset(NULL::via_text, $1)', [JSON.stringify(rows)]);
  const batches = (async function* () {
    for (let start = 0; start < rows.length; start += batchSize) yield* rowBatchesOf(columns, rows.slice(start, start + batchSize));
  })();
  await copyBinary('via_binary', batches);
}

describe('binary COPY input', () => {
  it('gives PostgreSQL the values its text input gives, at the edges of every type', async () => {
    // prepare / act
    await loadBothWays(edgeRows, 3);

    // assert
    expect(await differences()).toEqual({ onlyBinary: [], onlyText: [] });
    expect((await client.query('SELECT count(*)::int AS rows FROM via_binary')).rows[0]).toEqual({ rows: edgeRows.length });
  });

  it('gives PostgreSQL the values its text input gives, for any rows and batch sizes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArbitrary, { minLength: 0, maxLength: 40 }), fc.integer({ min: 1, max: 7 }), async (rows, batchSize) => {
        // prepare / act
        await loadBothWays(rows, batchSize);

        // assert
        expect(await differences()).toEqual({ onlyBinary: [], onlyText: [] });
        expect((await client.query('SELECT count(*)::int AS rows FROM via_binary')).rows[0]).toEqual({ rows: rows.length });
      }),
      { numRuns: 60 },
    );
  });

  it('gives PostgreSQL the same values when the input spans many of its blocks', async () => {
    // prepare: ~7 MB of COPY input, more blocks than the pool keeps, so blocks are handed back and reused
    const rows = rowsWithText(24_000);

    // act
    await loadBothWays(rows, 5_000);

    // assert
    expect(await differences()).toEqual({ onlyBinary: [], onlyText: [] });
    expect((await client.query('SELECT count(*)::int AS rows FROM via_binary')).rows[0]).toEqual({ rows: rows.length });
  });

  it('never writes into a block a stream has not called back for, with COPYs sharing the blocks', async () => {
    // prepare: streams that call back late, as a socket waiting for PostgreSQL does; a small COPY
    // (all of it one short part) waits longest while a large one keeps taking blocks
    const slowCopy = (rows: Row[], delayMs: number) => {
      const atWrite: Buffer[] = [];
      const atCallback: Buffer[] = [];
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          atWrite.push(Buffer.from(chunk));
          setTimeout(() => {
            atCallback.push(Buffer.from(chunk));
            done();
          }, delayMs);
        },
      });
      const batches = (async function* () {
        for (let start = 0; start < rows.length; start += 3_000) yield* rowBatchesOf(columns, rows.slice(start, start + 3_000));
      })();
      const expected = binaryRows(columns, { rowCount: rows.length, values: columns.map((each) => rows.map((row) => row[each.name])) });
      return { stream, batches, atWrite, atCallback, expected };
    };
    const copies = [slowCopy(rowsWithText(500), 30), slowCopy(rowsWithText(20_000), 1), slowCopy(rowsWithText(12_000), 3)];

    // act
    await Promise.all(copies.map(({ stream, batches }) => writeBinaryCopy(stream, columns, batches)));

    // assert: each chunk held what it held when written until its callback, and each whole is header + rows + trailer
    expect(copies.map(({ atWrite }) => (atWrite.length === 1 ? 'one short part' : atWrite.length > 3 ? 'many blocks' : 'few'))).toEqual(['one short part', 'many blocks', 'many blocks']);
    for (const { atWrite, atCallback, expected } of copies) {
      expect(atCallback.length).toBe(atWrite.length);
      expect(atWrite.filter((chunk, index) => !chunk.equals(atCallback[index]!)).length).toBe(0);
      const whole = Buffer.concat(atWrite);
      expect(whole.subarray(19, whole.length - 2).equals(expected)).toBe(true);
      expect(whole.subarray(whole.length - 2)).toEqual(Buffer.from([0xff, 0xff]));
    }
  });

  it('stops reading batches once the COPY stream fails, and throws its error', async () => {
    // prepare: the stream refuses its first chunk, as a broken connection would
    let batchesRead = 0;
    let closed = false;
    const batches = (async function* () {
      try {
        for (let batch = 0; batch < 50; batch += 1) {
          batchesRead += 1;
          yield* rowBatchesOf(columns, Array.from({ length: 2_000 }, (_, index) => ({ ...edgeRows[0]!, n: index })));
        }
      } finally {
        closed = true;
      }
    })();
    const broken = new Writable({ write: (_chunk, _encoding, done) => done(new Error('connection reset')) });

    // act
    const failure = await writeBinaryCopy(broken, columns, batches).catch((error: unknown) => error);

    // assert
    expect((failure as Error).message).toBe('connection reset');
    expect(batchesRead).toBeLessThan(5);
    expect(closed).toBe(true);
  });

  it('encodes every column type the warehouse tables have', () => {
    // prepare
    const covered = new Set(columns.map((column) => JSON.stringify({ ...column.type, precision: undefined })));

    // act
    const uncovered = warehouseTables
      .flatMap((table) => parquetColumnsFor(table))
      .filter((column) => !covered.has(JSON.stringify({ ...column.type, precision: undefined })))
      .map((column) => column.name);

    // assert
    expect(uncovered).toEqual([]);
  });

  it.each([
    ['n', 'GBP', /row 2, column n: "GBP" is not a 32-bit integer/],
    ['n', 1.5, /row 2, column n: 1\.5 is not a 32-bit integer/],
    ['n', 2_147_483_648, /row 2, column n: 2147483648 is not a 32-bit integer/],
    ['price', '12.3.4', /row 2, column price: "12\.3\.4" is not a decimal/],
    ['price', '-', /row 2, column price: "-" is not a decimal/],
    ['price', '1e5', /row 2, column price: "1e5" is not a decimal/],
    ['day', '2024-02-30', /row 2, column day: "2024-02-30" is not a calendar date/],
    ['day', 'yesterday', /row 2, column day: "yesterday" is not a date/],
    ['at', '12:60:00', /row 2, column at: "12:60:00" is not a time of day/],
    ['at', '24:00:00.000001', /row 2, column at: "24:00:00.000001" is not a time of day/],
    ['flag', 'yes', /row 2, column flag: "yes" is not a boolean/],
    ['s', 42, /row 2, column s: 42 is not text/],
  ] as const)('refuses %s = %j, naming the row and column', (column, value, message) => {
    // prepare
    const rows = [edgeRows[0]!, { ...edgeRows[1]!, [column]: value } as Row];

    // act / assert
    expect(() => binaryRows(columns, { rowCount: 2, values: columns.map((each) => rows.map((row) => row[each.name])) })).toThrow(message);
  });

  it('encodes times and decimals given as exact integers in the very bytes it writes for their text', () => {
    // prepare: edges of every group boundary, and random integers below 2^53, at every scale a Parquet INT64 decimal can have
    const edges = [0, 1, -1, 9, 10, 999, 1_000, 9_999, 10_000, 99_999_999, 100_000_000, 123_456_789, 2 ** 53 - 1, -(2 ** 53 - 1)];
    const random = fc.sample(fc.maxSafeInteger(), { numRuns: 300, seed: 8 });
    for (let scale = 0; scale <= 18; scale += 1) {
      const integers = [...edges, ...random];
      const column = { ...money('amount'), nullable: true, type: { kind: 'decimal' as const, scale, precision: 38 } };
      const withNull = [...integers, 0];
      const nulls = Uint8Array.from(withNull, (_, index) => (index === integers.length ? 1 : 0));
      const text = withNull.map((integer, index) => (nulls[index] === 1 ? null : unscaledToDecimal(BigInt(integer), scale)));

      // act
      const fromText = binaryRows([column], { rowCount: withNull.length, values: [text] });
      const fromIntegers = binaryRows([column], {
        rowCount: withNull.length,
        values: [text],
        exact: [{ kind: 'decimal', scale, integers: Float64Array.from(withNull), nulls }],
      });

      // assert
      expect(fromIntegers.equals(fromText), `scale ${scale}`).toBe(true);
    }
    const micros = [0, 1, 999_999, 1_000_000, 43_200_000_000, 86_399_999_999, 86_400_000_000];
    const times = micros.map((value) => microsToTime(BigInt(value)));
    expect(
      binaryRows([time('at')], { rowCount: micros.length, values: [times], exact: [{ kind: 'time', scale: 0, integers: Float64Array.from(micros), nulls: null }] })
        .equals(binaryRows([time('at')], { rowCount: micros.length, values: [times] })),
    ).toBe(true);
  });

  it('encodes dates given as exact days in the very bytes it writes for their text', () => {
    // prepare: either side of 1970 and 2000 (PostgreSQL's epoch), leap days, the ends of four-digit years, and a NULL
    const days = [-719_162, -683_003, -1, 0, 1, 10_956, 10_957, 10_958, 11_016, 19_782, 2_932_896, 0];
    const nulls = Uint8Array.from(days, (_, index) => (index === days.length - 1 ? 1 : 0));
    const column = { ...date('on'), nullable: true };
    const text = days.map((day, index) => (nulls[index] === 1 ? null : daysToDate(day)));

    // act
    const fromDays = binaryRows([column], { rowCount: days.length, values: [text], exact: [{ kind: 'date', scale: 0, integers: Float64Array.from(days), nulls }] });

    // assert
    expect(fromDays.equals(binaryRows([column], { rowCount: days.length, values: [text] }))).toBe(true);
  });

  it('refuses an exact day PostgreSQL cannot hold, naming the row and column', () => {
    // prepare
    const days = [0, 2 ** 31 + 10_957];

    // act / assert
    expect(() => binaryRows([date('on')], { rowCount: 2, values: [[]], exact: [{ kind: 'date', scale: 0, integers: Float64Array.from(days), nulls: null }] }))
      .toThrow('row 2, column on: "2147494605 days from 1970-01-01" is not a date PostgreSQL holds');
  });

  it('refuses an exact time outside the day as it refuses its text, naming the row and column', () => {
    // prepare
    const micros = [0, 86_400_000_001];
    const values = [micros.map((value) => microsToTime(BigInt(value)))];

    // act / assert
    expect(() => binaryRows([time('at')], { rowCount: 2, values, exact: [{ kind: 'time', scale: 0, integers: Float64Array.from(micros), nulls: null }] }))
      .toThrow('row 2, column at: "24:00:00.000001" is not a time of day');
    expect(() => binaryRows([time('at')], { rowCount: 2, values })).toThrow('row 2, column at: "24:00:00.000001" is not a time of day');
  });

  it('numbers a refused value by its row in the whole stream, across batches', async () => {
    // prepare
    const rows = [...edgeRows, { ...edgeRows[0]!, n: 'x' } as Row];
    const batches = (async function* () {
      yield* rowBatchesOf(columns, rows.slice(0, 3));
      yield* rowBatchesOf(columns, rows.slice(3));
    })();
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });

    // act
    const failure = await writeBinaryCopy(sink, columns, batches).catch((error: unknown) => error);

    // assert
    expect(failure).toBeInstanceOf(CopyValueError);
    expect((failure as Error).message).toBe('row 5, column n: "x" is not a 32-bit integer');
  });
});
