import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeParquet, parquetColumnsFor } from '../../src/parquet/codec';
import { decodeParquet } from '../../src/parquet/decode';
import { dimLocation, factPayment, factSalesOrder } from '../../src/schemas/warehouse';
import type { Row } from '../../src/schemas/rows';

const salesOrder: Row = {
  sales_order_id: 2,
  created_date: '2022-11-03',
  created_time: '14:20:52.186000',
  last_updated_date: '2024-11-20',
  last_updated_time: '16:25:45.036123',
  sales_staff_id: 19,
  counterparty_id: 8,
  units_sold: 42972,
  unit_price: '19.99',
  currency_id: 2,
  design_id: 3,
  agreed_payment_date: '2022-11-08',
  agreed_delivery_date: '2022-11-07',
  agreed_delivery_location_id: 8,
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'totes-parquet-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Reads a file with DuckDB, a reader that shares no code with the writer. */
async function readWithDuckDb(bytes: Uint8Array, sql: string) {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.parquet`);
  await writeFile(path, bytes);
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const reader = await connection.runAndReadAll(sql.replace('$file', `'${path}'`));
  return reader.getRowObjectsJson();
}

describe('parquet codec', () => {
  it('keeps statistics for ids and dates and compresses only text, as an independent reader sees', async () => {
    const bytes = encodeParquet(parquetColumnsFor(dimLocation), [
      { location_id: 1, address_line_1: '6826 Herzog Via', address_line_2: null, district: 'Avon', city: 'New Patienceburgh', postal_code: '28441', country: 'Turkey', phone: '1803 637401', _source_version: '2022-11-03 14:20:49.962000' },
    ]);

    const chunks = await readWithDuckDb(
      bytes,
      `select path_in_schema as col, compression, stats_min_value is not null as has_stats from parquet_metadata($file) order by column_id`,
    );

    expect(chunks).toEqual([
      { col: 'location_id', compression: 'UNCOMPRESSED', has_stats: true },
      ...['address_line_1', 'address_line_2', 'district', 'city', 'postal_code', 'country', 'phone', '_source_version'].map((col) => ({ col, compression: 'SNAPPY', has_stats: false })),
    ]);
    const factChunks = await readWithDuckDb(
      encodeParquet(parquetColumnsFor(factSalesOrder), [salesOrder]),
      `select path_in_schema as col, compression, stats_min_value is not null as has_stats from parquet_metadata($file) order by column_id`,
    );
    const withoutStats = new Set(['created_time', 'last_updated_time', 'unit_price']);
    expect(factChunks).toEqual(parquetColumnsFor(factSalesOrder).map(({ name }) => ({ col: name, compression: 'UNCOMPRESSED', has_stats: !withoutStats.has(name) })));
  });

  it('writes exact money, dates and sub-second times that an independent reader sees as such', async () => {
    const bytes = encodeParquet(parquetColumnsFor(factSalesOrder), [salesOrder, { ...salesOrder, sales_order_id: 3, unit_price: '0.01' }]);

    const rows = await readWithDuckDb(
      bytes,
      `select sales_order_id, unit_price::varchar as price, typeof(unit_price) as price_type, created_time::varchar as t,
              typeof(created_time) as t_type, agreed_payment_date::varchar as d, typeof(agreed_payment_date) as d_type,
              last_updated_time::varchar as lu from read_parquet($file) order by 1`,
    );

    expect(rows[0]).toMatchObject({ price: '19.99', price_type: 'DECIMAL(10,2)', t: '14:20:52.186', t_type: 'TIME', d: '2022-11-08', d_type: 'DATE', lu: '16:25:45.036123' });
    expect(rows[1]).toMatchObject({ price: '0.01' });
  });

  it('round-trips rows exactly through its own decoder, nulls and booleans included', async () => {
    const location: Row = {
      location_id: 1, address_line_1: "6826 Herzog Via, O'Keefe", address_line_2: null, district: '', city: 'New Patienceburgh',
      postal_code: '28441', country: 'Turkey', phone: '1803 637401', _source_version: '2022-11-03 14:20:49.962000',
    };
    const payment: Row = {
      payment_id: 1, created_date: '2024-01-01', created_time: '00:00:00.000000', last_updated_date: '2024-01-01',
      last_updated_time: '23:59:59.999000', transaction_id: 1, counterparty_id: 1, payment_amount: '-123456789012.34',
      currency_id: 1, payment_type_id: 1, paid: false, payment_date: '2024-02-29',
    };

    const decodedLocation = await decodeParquet(encodeParquet(parquetColumnsFor(dimLocation), [location]));
    const decodedPayment = await decodeParquet(encodeParquet(parquetColumnsFor(factPayment), [payment]));

    expect(decodedLocation.rows).toEqual([location]);
    expect(decodedLocation.columns).toEqual(parquetColumnsFor(dimLocation).map((c) => c.name));
    expect(decodedPayment.rows).toEqual([payment]);
  });

  it('keeps money beyond a double\'s exact range to the cent, in any row group, among ordinary amounts', async () => {
    const payment = (payment_id: number, payment_amount: string): Row => ({
      payment_id, created_date: '2024-01-01', created_time: '00:00:00.000000', last_updated_date: '2024-01-01',
      last_updated_time: '00:00:00.000000', transaction_id: 1, counterparty_id: 1, payment_amount,
      currency_id: 1, payment_type_id: 1, paid: true, payment_date: '2024-01-01',
    });
    // Groups of two: a huge amount after an ordinary one, then a group that starts with one.
    const rows = [payment(1, '0.01'), payment(2, '9999999999999999.99'), payment(3, '-1234567890123456.78'), payment(4, '5.00'), payment(5, '90071992547409.93')];

    const bytes = encodeParquet(parquetColumnsFor(factPayment), rows, { rowGroupSize: 2 });

    expect((await decodeParquet(bytes)).rows).toEqual(rows);
    const viaDuckDb = await readWithDuckDb(bytes, 'select payment_amount::varchar as amount from read_parquet($file) order by payment_id');
    expect(viaDuckDb.map((row) => row.amount)).toEqual(rows.map((row) => row.payment_amount));
  });

  it('refuses to round a value with more decimal places than the column scale', () => {
    expect(() => encodeParquet(parquetColumnsFor(factSalesOrder), [{ ...salesOrder, unit_price: '19.999' }])).toThrow(/more than 2 decimal places/);
  });

  it('rejects bytes that are not Parquet', async () => {
    await expect(decodeParquet(new TextEncoder().encode('sales_order_id,units\n1,2\n'))).rejects.toThrow();
  });
});
