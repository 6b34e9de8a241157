import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createParquetEncoder, parquetColumnsFor } from '../../../src/parquet/codec';
import { decodeParquet } from '../../../src/parquet/decode';
import type { Row } from '../../../src/schemas/rows';
import { SOURCE_VERSION_COLUMN, dimTransaction } from '../../../src/schemas/warehouse';
import { LatestRows } from '../../../src/stages/transform/latest-rows';

const columns = parquetColumnsFor(dimTransaction);

/** What the builder kept before LatestRows: a Map of the newest version per id, replaced unless the held one is newer. */
function reference(rows: readonly Row[]): Row[] {
  const latest = new Map<number, Row>();
  for (const row of rows) {
    const held = latest.get(row.transaction_id as number);
    if (!held || (held[SOURCE_VERSION_COLUMN] as string) <= (row[SOURCE_VERSION_COLUMN] as string)) latest.set(row.transaction_id as number, row);
  }
  return [...latest.values()].sort((a, b) => (a.transaction_id as number) - (b.transaction_id as number));
}

const version = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 999_999 }))
  .map(([day, hour, micros]) => `2024-01-0${day} 1${hour}:00:00.${String(micros).padStart(6, '0')}`);

const transactionRow = fc.record({
  transaction_id: fc.integer({ min: -5, max: 60 }),
  transaction_type: fc.constantFrom('SALE', 'PURCHASE', 'Ümlaut 👜'),
  sales_order_id: fc.option(fc.integer({ min: -2147483648, max: 2147483647 })),
  purchase_order_id: fc.option(fc.integer({ min: 0, max: 10 })),
  [SOURCE_VERSION_COLUMN]: version,
}) as fc.Arbitrary<Row>;

describe('LatestRows', () => {
  it('keeps what the Map kept: per id the newest version, of equal ones the last read, in id order, through any number of rows', async () => {
    await fc.assert(fc.asyncProperty(fc.array(transactionRow, { maxLength: 3000 }), async (rows) => {
      const latest = new LatestRows(columns, 'transaction_id');
      for (const row of rows) latest.add(row);
      const encoder = createParquetEncoder(columns, { rowGroupSize: 500 });

      const pushed = latest.encode(encoder);

      const expected = reference(rows);
      expect(pushed).toBe(expected.length);
      if (pushed > 0) expect((await decodeParquet(encoder.finish())).rows).toEqual(expected);
    }), { numRuns: 60 });
  });

  it('refuses values its columns cannot hold as they are', () => {
    const latest = new LatestRows(columns, 'transaction_id');
    const row: Row = { transaction_id: 1, transaction_type: 'SALE', sales_order_id: null, purchase_order_id: 2, [SOURCE_VERSION_COLUMN]: '2024-01-01 00:00:00.000000' };

    expect(() => latest.add({ ...row, transaction_id: 2 ** 31 })).toThrow(/transaction_id: 2147483648 is not a 32-bit integer/);
    expect(() => latest.add({ ...row, [SOURCE_VERSION_COLUMN]: '2024-01-01 00:00:00|2024-01-01 00:00:00' })).toThrow(/is not a normalised timestamp/);
    expect(() => new LatestRows(parquetColumnsFor(dimTransaction), 'transaction_type')).toThrow(/must be a NOT NULL int/);
  });

  it('holds nothing of a row it refused half-way', async () => {
    const latest = new LatestRows(columns, 'transaction_id');
    const row: Row = { transaction_id: 1, transaction_type: 'SALE', sales_order_id: null, purchase_order_id: 2, [SOURCE_VERSION_COLUMN]: '2024-01-01 00:00:00.000000' };
    expect(() => latest.add({ ...row, transaction_type: 'PURCHASE', [SOURCE_VERSION_COLUMN]: 'not a version' })).toThrow();
    latest.add(row);
    const encoder = createParquetEncoder(columns);

    expect(latest.encode(encoder)).toBe(1);
    expect((await decodeParquet(encoder.finish())).rows).toEqual([row]);
  });
});
