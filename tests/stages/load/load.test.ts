import { parquetMetadata } from 'hyparquet';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WarehouseSchemaNames } from '../../../src/db/warehouse-ddl';
import { createPgWarehouse } from '../../../src/db/warehouse-writer';
import { InvalidInputError, NotYetAvailableError, TotesError } from '../../../src/errors';
import { encodeParquet, parquetColumnsFor } from '../../../src/parquet/codec';
import { fileColumns, factSalesOrder, dimStaff } from '../../../src/schemas/warehouse';
import { silentLogger } from '../../../src/observability/logger';
import { type LoadDeps, loadObject } from '../../../src/stages/load';
import { createInFlightLimit } from '../../../src/stages/shared/in-flight';
import { ObjectBuffers } from '../../../src/stages/shared/object-buffers';
import { MemoryObjectStore } from '../../support/memory-object-store';
import { createTestDatabase, type TestDatabase } from '../../support/pg';
import {
  count, counterpartyRow, createWarehouseSchemas, currencyRow, designRow, locationRow, processedKey, putProcessed,
  salesOrderRow, staffRow, starSnapshot,
} from './fixtures';

let database: TestDatabase;
let pool: pg.Pool;
let names: WarehouseSchemaNames;
let store: MemoryObjectStore;
let deps: LoadDeps;

beforeAll(async () => {
  database = await createTestDatabase('totes_load');
  pool = new pg.Pool({ connectionString: database.url, max: 8 });
});

afterAll(async () => {
  await pool.end();
  await database.drop();
});

beforeEach(async () => {
  names = await createWarehouseSchemas(pool);
  store = new MemoryObjectStore();
  deps = { processed: store, warehouse: createPgWarehouse(pool, names), logger: silentLogger };
});

const V1 = '2024-11-20 15:22:10.531518|2024-11-20 15:22:10.531518';
const V2 = '2024-11-20 16:25:45.036000|2024-11-20 15:22:10.531518';
const V3 = '2024-11-21 09:38:15.221234|2024-11-20 16:25:45.036000';

/** The dimension rows a default sales order (all ids 1) refers to. */
async function putSalesDimensions(): Promise<string[]> {
  return [
    await putProcessed(store, 'dim_staff', [staffRow(1, V1)]),
    await putProcessed(store, 'dim_counterparty', [counterpartyRow(1, V1)]),
    await putProcessed(store, 'dim_currency', [currencyRow(1, 'GBP', 'Pound Sterling', V1)]),
    await putProcessed(store, 'dim_design', [designRow(1, V1)]),
    await putProcessed(store, 'dim_location', [locationRow(1, V1)]),
  ];
}

async function loadAll(keys: string[]): Promise<void> {
  for (const key of keys) await loadObject({ key }, deps);
}

const star = (table: string) => `"${names.schema}"."${table}"`;

describe('loadObject', () => {
  it('loads dimensions and facts with exact money, sub-second times, and NULL distinct from the empty string', async () => {
    // prepare
    await loadAll(await putSalesDimensions());
    const odd = await putProcessed(store, 'dim_location', [
      locationRow(2, V1, { address_line_2: '', district: null, address_line_1: 'Flat "A", 1\nHigh St', city: '\\.' }),
    ]);
    const facts = await putProcessed(store, 'fact_sales_order', [
      salesOrderRow(11283, '2024-11-21 09:38:15.221234', { unit_price: '19.99', created_time: '00:00:00.000001' }),
      salesOrderRow(11284, '2024-11-21 09:38:15.221234', { unit_price: '-0.50', units_sold: 0, agreed_delivery_location_id: 2 }),
    ]);

    // act
    await loadObject({ key: odd }, deps);
    const report = await loadObject({ key: facts }, deps);

    // assert
    expect(report).toEqual({ key: facts, status: 'loaded', table: 'fact_sales_order', rowsInFile: 2, rowsApplied: 2 });
    const loaded = await pool.query(
      `SELECT sales_order_id, unit_price::text, created_time::text, last_updated_time::text, last_updated_date::text
         FROM ${star('fact_sales_order')} ORDER BY sales_order_id`,
    );
    expect(loaded.rows).toEqual([
      { sales_order_id: 11283, unit_price: '19.99', created_time: '00:00:00.000001', last_updated_time: '09:38:15.221234', last_updated_date: '2024-11-21' },
      { sales_order_id: 11284, unit_price: '-0.50', created_time: '15:22:10.531518', last_updated_time: '09:38:15.221234', last_updated_date: '2024-11-21' },
    ]);
    const location = await pool.query(`SELECT address_line_1, address_line_2, district, city FROM ${star('dim_location')} WHERE location_id = 2`);
    expect(location.rows).toEqual([{ address_line_1: 'Flat "A", 1\nHigh St', address_line_2: '', district: null, city: '\\.' }]);
    // Every date the facts refer to exists in dim_date, derived like the transform derives it.
    const dates = await pool.query(`SELECT date_id::text, day_of_week, day_name, quarter FROM ${star('dim_date')} ORDER BY date_id`);
    expect(dates.rows).toEqual([
      { date_id: '2024-11-20', day_of_week: 3, day_name: 'Wednesday', quarter: 4 },
      { date_id: '2024-11-21', day_of_week: 4, day_name: 'Thursday', quarter: 4 },
      { date_id: '2024-11-25', day_of_week: 1, day_name: 'Monday', quarter: 4 },
      { date_id: '2024-11-28', day_of_week: 4, day_name: 'Thursday', quarter: 4 },
    ]);
    const log = await pool.query(`SELECT table_name, rows_in_file, rows_applied FROM "${names.bookkeepingSchema}".load_log WHERE key = $1`, [facts]);
    expect(log.rows).toEqual([{ table_name: 'fact_sales_order', rows_in_file: 2, rows_applied: 2 }]);
  });

  it('leaves the warehouse unchanged when the same objects are delivered twice', async () => {
    // prepare
    const dimensions = await putSalesDimensions();
    const facts = await putProcessed(store, 'fact_sales_order', [
      salesOrderRow(1, '2024-11-21 09:38:15.221234'),
      salesOrderRow(1, '2024-11-21 09:38:15.221234'),
      salesOrderRow(2, '2024-11-21 09:38:15.221234'),
    ]);
    await loadAll([...dimensions, facts]);
    const before = await starSnapshot(pool, names.schema);
    const recordIdsBefore = await pool.query(`SELECT array_agg(sales_record_id ORDER BY sales_record_id) AS ids FROM ${star('fact_sales_order')}`);

    // act
    const reports = [];
    for (const key of [...dimensions, facts]) reports.push(await loadObject({ key }, deps));

    // assert
    expect(reports.map((report) => report.rowsApplied)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await starSnapshot(pool, names.schema)).toEqual(before);
    expect(before.fact_sales_order).toHaveLength(2);
    const recordIdsAfter = await pool.query(`SELECT array_agg(sales_record_id ORDER BY sales_record_id) AS ids FROM ${star('fact_sales_order')}`);
    expect(recordIdsAfter.rows).toEqual(recordIdsBefore.rows);
    const log = await pool.query(`SELECT deliveries, rows_applied FROM "${names.bookkeepingSchema}".load_log WHERE key = $1`, [facts]);
    expect(log.rows).toEqual([{ deliveries: 2, rows_applied: 2 }]);
  });

  it('keeps every fact version: an order updated once gives two rows', async () => {
    // prepare
    await loadAll(await putSalesDimensions());
    const first = await putProcessed(store, 'fact_sales_order', [salesOrderRow(7, '2024-11-20 15:22:10.531518', { units_sold: 5 })]);
    const second = await putProcessed(store, 'fact_sales_order', [salesOrderRow(7, '2024-11-21 09:38:15.221234', { units_sold: 6 })]);

    // act
    await loadAll([second, first]);

    // assert
    const rows = await pool.query(`SELECT units_sold FROM ${star('fact_sales_order')} WHERE sales_order_id = 7 ORDER BY last_updated_date`);
    expect(rows.rows).toEqual([{ units_sold: 5 }, { units_sold: 6 }]);
  });

  it('never lets an older dimension version overwrite a newer one, and keeps the newest of one file', async () => {
    // prepare
    const newer = await putProcessed(store, 'dim_staff', [staffRow(1, V2, { location: 'Liverpool' })]);
    const older = await putProcessed(store, 'dim_staff', [staffRow(1, V1, { location: 'Manchester' })]);
    const mixed = await putProcessed(store, 'dim_staff', [
      staffRow(2, V3, { last_name: 'Newest' }),
      staffRow(2, V1, { last_name: 'Oldest' }),
      staffRow(2, V2, { last_name: 'Middle' }),
    ]);

    // act
    const reports = [];
    for (const key of [newer, older, mixed]) reports.push(await loadObject({ key }, deps));

    // assert
    expect(reports.map((report) => report.rowsApplied)).toEqual([1, 0, 1]);
    const rows = await pool.query(`SELECT staff_id, location, last_name FROM ${star('dim_staff')} ORDER BY staff_id`);
    expect(rows.rows).toEqual([
      { staff_id: 1, location: 'Liverpool', last_name: 'Last1' },
      { staff_id: 2, location: 'Manchester', last_name: 'Newest' },
    ]);
    const versions = await pool.query(`SELECT natural_id, version FROM "${names.bookkeepingSchema}".dim_staff_version ORDER BY natural_id`);
    expect(versions.rows).toEqual([{ natural_id: 1, version: V2 }, { natural_id: 2, version: V3 }]);
  });

  it('records the version of every new dimension row, over several row groups', async () => {
    // prepare: a new-ids object takes the one-pass path, which reads the ids and versions a second time
    const rows = Array.from({ length: 25 }, (_, index) => ({
      transaction_id: index + 1, transaction_type: index % 2 === 0 ? 'SALE' : 'PURCHASE', sales_order_id: index % 2 === 0 ? index + 100 : null,
      purchase_order_id: index % 2 === 0 ? null : index + 200, _source_version: `2024-11-20 15:22:${String(index + 10)}.531518`,
    }));
    const key = await putProcessed(store, 'dim_transaction', rows, { rowGroupSize: 10 });

    // act
    const report = await loadObject({ key }, deps);

    // assert
    expect(report.rowsApplied).toBe(25);
    const loaded = await pool.query(`SELECT transaction_id, transaction_type, sales_order_id, purchase_order_id FROM ${star('dim_transaction')} ORDER BY transaction_id`);
    expect(loaded.rows).toEqual(rows.map(({ _source_version: _version, ...row }) => row));
    const versions = await pool.query(`SELECT natural_id, version FROM "${names.bookkeepingSchema}".dim_transaction_version ORDER BY natural_id`);
    expect(versions.rows).toEqual(rows.map((row) => ({ natural_id: row.transaction_id, version: row._source_version })));
  });

  it('updates a dimension row when a newer version arrives', async () => {
    // prepare
    await loadAll([await putProcessed(store, 'dim_staff', [staffRow(1, V1, { location: 'Manchester' })])]);
    const newer = await putProcessed(store, 'dim_staff', [staffRow(1, V2, { location: 'Liverpool' })]);

    // act
    const report = await loadObject({ key: newer }, deps);

    // assert
    expect(report.rowsApplied).toBe(1);
    const rows = await pool.query(`SELECT location FROM ${star('dim_staff')}`);
    expect(rows.rows).toEqual([{ location: 'Liverpool' }]);
  });

  it('keeps the newest version when loads of the same ids run concurrently', async () => {
    // prepare
    const versions = Array.from({ length: 12 }, (_, index) => `2024-11-2${Math.floor(index / 10)} 1${index % 10}:00:00.000000|x`);
    const keys: string[] = [];
    for (const version of versions) {
      keys.push(await putProcessed(store, 'dim_staff', [1, 2, 3].map((id) => staffRow(id, version, { last_name: version }))));
    }

    // act
    // As many at once as Lambda instances would run: a process loads one object at a time.
    const concurrent = { ...deps, objectsInFlight: createInFlightLimit(keys.length) };
    const results = await Promise.allSettled(keys.reverse().map((key) => loadObject({ key }, concurrent)));

    // assert
    const failures = results.filter((result) => result.status === 'rejected');
    // A deadlock between two loads is possible in principle; it is retryable and nothing else may fail.
    for (const failure of failures) expect((failure as PromiseRejectedResult).reason).toMatchObject({ retryable: true });
    for (const [index, result] of results.entries()) if (result.status === 'rejected') await loadObject({ key: keys[index]! }, deps);
    const rows = await pool.query(`SELECT DISTINCT last_name FROM ${star('dim_staff')}`);
    expect(rows.rows).toEqual([{ last_name: versions.at(-1) }]);
  });

  it('refuses a fact whose dimension rows have not arrived, loads nothing, and loads it once they land', async () => {
    // prepare
    const dimensions = await putSalesDimensions();
    await loadAll(dimensions.filter((key) => !key.startsWith('dim_staff/')));
    const facts = await putProcessed(store, 'fact_sales_order', [
      salesOrderRow(1, '2024-11-21 09:38:15.221234', { sales_staff_id: 14 }),
      salesOrderRow(2, '2024-11-21 09:38:15.221234', { sales_staff_id: 12 }),
      salesOrderRow(3, '2024-11-21 09:38:15.221234', { sales_staff_id: 12 }),
    ]);

    // act
    const failure = await loadObject({ key: facts }, deps).catch((error: unknown) => error);

    // assert
    expect(failure).toBeInstanceOf(NotYetAvailableError);
    expect((failure as NotYetAvailableError).retryable).toBe(true);
    expect((failure as Error).message).toBe(`fact_sales_order object ${facts}: waiting for dim_staff staff_id 12, 14 (3 rows)`);
    expect(await count(pool, star('fact_sales_order'))).toBe(0);
    expect(await count(pool, star('dim_date'))).toBe(0);
    expect(await count(pool, `"${names.bookkeepingSchema}".load_log`)).toBe(4);

    // act: the dimension lands, the message is redelivered
    await loadObject({ key: await putProcessed(store, 'dim_staff', [staffRow(12, V1), staffRow(14, V1)]) }, deps);
    const report = await loadObject({ key: facts }, deps);

    // assert
    expect(report.rowsApplied).toBe(3);
    expect(await count(pool, star('fact_sales_order'))).toBe(3);
  });

  it('names every missing dimension in one message', async () => {
    // prepare
    const facts = await putProcessed(store, 'fact_sales_order', [salesOrderRow(1, '2024-11-21 09:38:15.221234', { design_id: 9 })]);

    // act
    const failure = await loadObject({ key: facts }, deps).catch((error: unknown) => error);

    // assert
    expect((failure as Error).message).toBe(
      `fact_sales_order object ${facts}: waiting for dim_staff staff_id 1 (1 row); dim_counterparty counterparty_id 1 (1 row); ` +
        'dim_currency currency_id 1 (1 row); dim_design design_id 9 (1 row); dim_location location_id 1 (1 row)',
    );
  });

  it('gives the same warehouse whatever order the objects arrive in', async () => {
    // prepare: dimension versions and fact versions spread over many objects
    const keys = [
      await putProcessed(store, 'dim_staff', [staffRow(1, V1), staffRow(2, V1)]),
      await putProcessed(store, 'dim_staff', [staffRow(1, V2, { location: 'Liverpool' })]),
      await putProcessed(store, 'dim_staff', [staffRow(2, V3, { email_address: 'two@terrifictotes.com' }), staffRow(1, V1)]),
      await putProcessed(store, 'dim_counterparty', [counterpartyRow(1, V1), counterpartyRow(2, V1)]),
      await putProcessed(store, 'dim_counterparty', [counterpartyRow(2, V2, { counterparty_legal_address_line_2: 'Unit 4' })]),
      await putProcessed(store, 'dim_currency', [currencyRow(1, 'GBP', 'Pound Sterling', V1), currencyRow(2, 'USD', 'US Dollar', V1)]),
      await putProcessed(store, 'dim_design', [designRow(1, V1), designRow(2, V1)]),
      await putProcessed(store, 'dim_design', [designRow(2, V3, { file_name: 'renamed.json' })]),
      await putProcessed(store, 'dim_location', [locationRow(1, V1), locationRow(2, V1)]),
      await putProcessed(store, 'dim_date', [{ date_id: '2030-01-01', year: 2030, month: 1, day: 1, day_of_week: 2, day_name: 'Tuesday', month_name: 'January', quarter: 1 }]),
      await putProcessed(store, 'fact_sales_order', [salesOrderRow(1, '2024-11-20 15:22:10.531518'), salesOrderRow(2, '2024-11-20 15:22:10.531518', { sales_staff_id: 2 })]),
      await putProcessed(store, 'fact_sales_order', [salesOrderRow(1, '2024-11-21 09:38:15.221234', { units_sold: 7, design_id: 2 })]),
      await putProcessed(store, 'fact_sales_order', [salesOrderRow(3, '2024-11-21 09:38:15.221234', { counterparty_id: 2, currency_id: 2, agreed_delivery_location_id: 2 })]),
    ];
    await loadAll(keys);
    const inOrder = await starSnapshot(pool, names.schema);

    // act: the same objects, shuffled, several times, each into a fresh warehouse
    const shuffledSnapshots = [];
    for (const seed of [1, 2, 3, 4]) {
      const shuffledNames = await createWarehouseSchemas(pool);
      const shuffledDeps: LoadDeps = { ...deps, warehouse: createPgWarehouse(pool, shuffledNames) };
      let pending = shuffle(keys, seed);
      // Facts that came too early are retried after the rest, as SQS redelivery would.
      for (let round = 0; pending.length > 0 && round < 5; round += 1) {
        const retry: string[] = [];
        for (const key of pending) {
          await loadObject({ key }, shuffledDeps).catch((error: unknown) => {
            if (!(error instanceof NotYetAvailableError)) throw error;
            retry.push(key);
          });
        }
        pending = retry;
      }
      expect(pending).toEqual([]);
      shuffledSnapshots.push(await starSnapshot(pool, shuffledNames.schema));
    }

    // assert
    expect(inOrder.fact_sales_order).toHaveLength(4);
    expect(inOrder.dim_staff?.join()).toContain('Liverpool');
    for (const snapshot of shuffledSnapshots) expect(snapshot).toEqual(inOrder);
  });

  it('rolls back a load whose connection is killed mid-transaction, and a retry completes without duplicates', async () => {
    // prepare
    await loadAll(await putSalesDimensions());
    const facts = await putProcessed(store, 'fact_sales_order', [
      salesOrderRow(1, '2024-11-21 09:38:15.221234'),
      salesOrderRow(2, '2024-11-21 09:38:15.221234'),
    ]);
    // Another session blocks inserts into the fact table, so the load stops inside its transaction.
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query(`LOCK TABLE ${star('fact_sales_order')} IN SHARE ROW EXCLUSIVE MODE`);

    // act
    const load = loadObject({ key: facts }, deps).catch((error: unknown) => error);
    let failure: unknown;
    try {
      const pid = await waitForBlockedWrite(pool);
      await pool.query('SELECT pg_terminate_backend($1)', [pid]);
      failure = await load;
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }

    // assert: nothing of the killed transaction survived, not even its dim_date rows
    expect(failure).toBeInstanceOf(TotesError);
    expect((failure as TotesError).retryable).toBe(true);
    expect((failure as Error).message).toContain(facts);
    expect(await count(pool, star('fact_sales_order'))).toBe(0);
    expect(await count(pool, star('dim_date'))).toBe(0);

    // act: redelivery, twice
    await loadObject({ key: facts }, deps);
    await loadObject({ key: facts }, deps);

    // assert
    expect(await count(pool, star('fact_sales_order'))).toBe(2);
  });

  it('tells the warehouse whether a fact object comes back after a failed delivery', async () => {
    // prepare
    await loadAll(await putSalesDimensions());
    const first = await putProcessed(store, 'fact_sales_order', [salesOrderRow(1, '2024-11-21 09:38:15.221234')]);
    const again = await putProcessed(store, 'fact_sales_order', [salesOrderRow(2, '2024-11-21 09:38:15.221234')]);
    const told: Array<boolean | undefined> = [];
    const recording: LoadDeps = {
      ...deps,
      warehouse: { ...deps.warehouse, applyFacts: (table, rows, meta) => (told.push(meta.redelivered), deps.warehouse.applyFacts(table, rows, meta)) },
    };

    // act
    await loadObject({ key: first }, recording);
    await loadObject({ key: again, redelivered: true }, recording);

    // assert
    expect(told).toEqual([false, true]);
    expect(await count(pool, star('fact_sales_order'))).toBe(2);
  });

  it('rejects a corrupt Parquet file and loads nothing', async () => {
    // prepare
    const key = processedKey('dim_staff');
    const valid = encodeParquet(parquetColumnsFor(dimStaff), [staffRow(1, V1)]);
    await store.putNew(key, valid.slice(0, valid.length - 20));

    // act
    const failure = await loadObject({ key }, deps).catch((error: unknown) => error);

    // assert
    expect(failure).toBeInstanceOf(InvalidInputError);
    expect((failure as InvalidInputError).retryable).toBe(false);
    expect((failure as Error).message).toBe(`dim_staff object ${key}: not a readable Parquet file`);
    expect(await count(pool, star('dim_staff'))).toBe(0);
    expect(await count(pool, `"${names.bookkeepingSchema}".load_log`)).toBe(0);
  });

  it('rejects a file whose columns are not the table’s, naming the missing and unexpected ones', async () => {
    // prepare: a dimension file without its version column, and a fact file with an extra column
    const staffKey = processedKey('dim_staff');
    await store.putNew(staffKey, encodeParquet(fileColumns(dimStaff), [staffRow(1, V1)]));
    const factKey = processedKey('fact_sales_order');
    const columns = [...parquetColumnsFor(factSalesOrder), parquetColumnsFor(dimStaff).at(-1)!];
    await store.putNew(factKey, encodeParquet(columns, [{ ...salesOrderRow(1, '2024-11-21 09:38:15.221234'), _source_version: V1 }]));

    // act
    const staffFailure = await loadObject({ key: staffKey }, deps).catch((error: unknown) => error);
    const factFailure = await loadObject({ key: factKey }, deps).catch((error: unknown) => error);

    // assert
    expect(staffFailure).toBeInstanceOf(InvalidInputError);
    expect((staffFailure as Error).message).toBe(`dim_staff object ${staffKey}: missing columns _source_version`);
    expect(factFailure).toBeInstanceOf(InvalidInputError);
    expect((factFailure as Error).message).toBe(`fact_sales_order object ${factKey}: unexpected columns _source_version`);
    expect(await count(pool, star('dim_staff'))).toBe(0);
    expect(await count(pool, star('fact_sales_order'))).toBe(0);
  });

  it('rejects a value that does not fit its column, naming the row and column', async () => {
    // prepare: the codec writes what it is given; a decimal wider than numeric(10,2) gets through it
    await loadAll(await putSalesDimensions());
    const key = await putProcessed(store, 'fact_sales_order', [
      salesOrderRow(1, '2024-11-21 09:38:15.221234'),
      salesOrderRow(2, '2024-11-21 09:38:15.221234', { unit_price: '123456789.00' }),
    ]);

    // act
    const failure = await loadObject({ key }, deps).catch((error: unknown) => error);

    // assert
    expect(failure).toBeInstanceOf(InvalidInputError);
    expect((failure as Error).message).toBe(`fact_sales_order object ${key}: row 2 column unit_price 123456789.00 does not fit numeric(10,2)`);
    expect((failure as InvalidInputError).context).toMatchObject({ line: 2, column: 'unit_price', table: 'fact_sales_order', key });
    expect(await count(pool, star('fact_sales_order'))).toBe(0);
  });

  it('loads a file of several row groups whole, with the dates every group refers to', async () => {
    // prepare: 25 orders in row groups of 10; only the last group refers to 2024-12-31
    await loadAll(await putSalesDimensions());
    const rows = Array.from({ length: 25 }, (_, index) =>
      salesOrderRow(index + 1, '2024-11-21 09:38:15.221234', index === 24 ? { agreed_delivery_date: '2024-12-31', unit_price: '-0.01' } : {}),
    );
    const key = await putProcessed(store, 'fact_sales_order', rows, { rowGroupSize: 10 });

    // act
    const report = await loadObject({ key }, deps);

    // assert
    expect(report).toMatchObject({ status: 'loaded', rowsInFile: 25, rowsApplied: 25 });
    const loaded = await pool.query(`SELECT sales_order_id, unit_price::text FROM ${star('fact_sales_order')} WHERE sales_order_id IN (10, 11, 25) ORDER BY 1`);
    expect(loaded.rows).toEqual([
      { sales_order_id: 10, unit_price: '19.99' },
      { sales_order_id: 11, unit_price: '19.99' },
      { sales_order_id: 25, unit_price: '-0.01' },
    ]);
    const lastDate = await pool.query(`SELECT date_id::text FROM ${star('dim_date')} WHERE date_id = '2024-12-31'`);
    expect(lastDate.rows).toEqual([{ date_id: '2024-12-31' }]);
    const log = await pool.query(`SELECT rows_in_file FROM "${names.bookkeepingSchema}".load_log WHERE key = $1`, [key]);
    expect(log.rows).toEqual([{ rows_in_file: 25 }]);
  });

  it('loads one object at a time in a process, whatever the batch hands it', async () => {
    // prepare: every read notes how many objects are being loaded at that moment
    await loadAll(await putSalesDimensions());
    const keys = await Promise.all([1, 2, 3].map((id) => putProcessed(store, 'fact_sales_order', [salesOrderRow(id, '2024-11-21 09:38:15.221234')])));
    let loading = 0;
    let mostAtOnce = 0;
    const reading = store;
    const counting = Object.assign(Object.create(reading) as MemoryObjectStore, {
      getBytes: async (key: string, allocate?: (byteLength: number) => Uint8Array) => {
        loading += 1;
        mostAtOnce = Math.max(mostAtOnce, loading);
        return reading.getBytes(key, allocate);
      },
    });
    const warehouse = deps.warehouse;
    const tracked = Object.assign(Object.create(warehouse) as typeof warehouse, {
      applyFacts: async (...args: Parameters<typeof warehouse.applyFacts>) => {
        try {
          return await warehouse.applyFacts(...args);
        } finally {
          loading -= 1;
        }
      },
    });

    // act
    const reports = await Promise.all(keys.map((key) => loadObject({ key }, { ...deps, processed: counting, warehouse: tracked })));

    // assert
    expect(reports.map((report) => report.rowsApplied)).toEqual([1, 1, 1]);
    expect(mostAtOnce).toBe(1);
  });

  it('reads each object into memory kept from the one before, and a smaller object after a larger one loads only its own rows', async () => {
    // prepare: a wide dim_staff object, then a one-row one whose bytes are read over its memory
    const read: Uint8Array[] = [];
    const reading = store;
    deps = {
      ...deps,
      objectBuffers: new ObjectBuffers(1),
      processed: Object.assign(Object.create(reading) as MemoryObjectStore, {
        getBytes: async (key: string, allocate?: (byteLength: number) => Uint8Array) => {
          const bytes = await reading.getBytes(key, allocate);
          read.push(bytes);
          return bytes;
        },
      }),
    };
    const wide = await putProcessed(store, 'dim_staff', Array.from({ length: 2000 }, (_, index) => staffRow(index + 1, V1, { last_name: `Wide${'x'.repeat(40)}${index}` })));
    const narrow = await putProcessed(store, 'dim_staff', [staffRow(9001, V1, { last_name: 'Narrow' })]);

    // act
    await loadObject({ key: wide }, deps);
    const report = await loadObject({ key: narrow }, deps);

    // assert
    expect(read[1]!.buffer).toBe(read[0]!.buffer);
    expect(read[1]!.byteLength).toBeLessThan(read[0]!.byteLength);
    expect(report).toMatchObject({ status: 'loaded', rowsInFile: 1, rowsApplied: 1 });
    expect(await count(pool, star('dim_staff'))).toBe(2001);
    const last = await pool.query(`SELECT last_name FROM ${star('dim_staff')} WHERE staff_id IN (2000, 9001) ORDER BY staff_id`);
    expect(last.rows).toEqual([{ last_name: `Wide${'x'.repeat(40)}1999` }, { last_name: 'Narrow' }]);
  });

  it('rejects a bad value in a later row group, naming its row, and rolls back the groups already copied', async () => {
    // prepare: row 17 (the second group of 10) is too wide for numeric(10,2)
    const dimensions = await putSalesDimensions();
    await loadAll(dimensions);
    const rows = Array.from({ length: 25 }, (_, index) =>
      salesOrderRow(index + 1, '2024-11-21 09:38:15.221234', index === 16 ? { unit_price: '123456789.00' } : {}),
    );
    const key = await putProcessed(store, 'fact_sales_order', rows, { rowGroupSize: 10 });
    // A dimension whose third row (second group of 2) has a NULL first name the column forbids.
    const staffKey = processedKey('dim_staff');
    const staffColumns = parquetColumnsFor(dimStaff).map((column) => (column.name === 'first_name' ? { ...column, nullable: true } : column));
    await store.putNew(staffKey, encodeParquet(staffColumns, [staffRow(7, V1), staffRow(8, V1), staffRow(9, V1, { first_name: null })], { rowGroupSize: 2 }));

    // act
    const failure = await loadObject({ key }, deps).catch((error: unknown) => error);
    const staffFailure = await loadObject({ key: staffKey }, deps).catch((error: unknown) => error);

    // assert
    expect(failure).toBeInstanceOf(InvalidInputError);
    expect((failure as Error).message).toBe(`fact_sales_order object ${key}: row 17 column unit_price 123456789.00 does not fit numeric(10,2)`);
    expect((failure as InvalidInputError).context).toMatchObject({ line: 17, column: 'unit_price', table: 'fact_sales_order', key });
    expect(staffFailure).toBeInstanceOf(InvalidInputError);
    expect((staffFailure as Error).message).toBe(`dim_staff object ${staffKey}: row 3 column first_name is NULL but the column is NOT NULL`);
    expect(await count(pool, star('fact_sales_order'))).toBe(0);
    expect(await count(pool, star('dim_date'))).toBe(0);
    expect(await count(pool, star('dim_staff'))).toBe(1);
    expect(await count(pool, `"${names.bookkeepingSchema}".load_log`)).toBe(dimensions.length);

    // act: the connections the aborted COPYs ran on load the fixed file
    const fixed = await putProcessed(store, 'fact_sales_order', rows.map((row) => ({ ...row, unit_price: '19.99' })), { rowGroupSize: 10 });
    const concurrent = { ...deps, objectsInFlight: createInFlightLimit(2) };
    const reports = await Promise.all([loadObject({ key: fixed }, concurrent), loadObject({ key: fixed }, concurrent)]);

    // assert
    expect(reports.map((report) => report.rowsInFile)).toEqual([25, 25]);
    expect(await count(pool, star('fact_sales_order'))).toBe(25);
  });

  it('rejects a file whose later row group cannot be read, and loads nothing', async () => {
    // prepare: the footer is intact, the second row group's first column chunk is garbage
    await loadAll(await putSalesDimensions());
    const key = processedKey('fact_sales_order');
    const rows = Array.from({ length: 20 }, (_, index) => salesOrderRow(index + 1, '2024-11-21 09:38:15.221234'));
    const bytes = encodeParquet(parquetColumnsFor(factSalesOrder), rows, { rowGroupSize: 10 });
    const chunk = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).row_groups[1]!.columns[0]!.meta_data!;
    const start = Number(chunk.data_page_offset);
    bytes.fill(0xff, start, start + Number(chunk.total_compressed_size));
    await store.putNew(key, bytes);

    // act
    const failure = await loadObject({ key }, deps).catch((error: unknown) => error);

    // assert
    expect(failure).toBeInstanceOf(InvalidInputError);
    expect((failure as Error).message).toBe(`fact_sales_order object ${key}: not a readable Parquet file`);
    expect(await count(pool, star('fact_sales_order'))).toBe(0);
    expect(await count(pool, star('dim_date'))).toBe(0);
  });

  it('skips a key that is not a processed object', async () => {
    // prepare
    const key = 'dim_staff/notes.txt';

    // act
    const report = await loadObject({ key }, deps);

    // assert
    expect(report).toEqual({ key, status: 'skipped', rowsInFile: 0, rowsApplied: 0 });
  });
});

/** A deterministic Fisher–Yates shuffle, so a failure can be replayed. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const result = [...items];
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  for (let index = result.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [result[index], result[other]] = [result[other]!, result[index]!];
  }
  return result;
}

/** The backend of a load waiting to write into the blocked fact table (its COPY, or the staged path's INSERT). Polls from outside any transaction: inside one, pg_stat_activity is a frozen snapshot. */
async function waitForBlockedWrite(observer: pg.Pool): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const result = await observer.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND (query LIKE 'INSERT INTO%' OR query LIKE 'COPY%')`,
    );
    if (result.rows[0]) return result.rows[0].pid;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the load never reached its write into the fact table');
}
