import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { WarehouseSchemaNames } from '../../src/db/warehouse-ddl';
import { PgWarehouse, keyArrayParameter, translatePgError } from '../../src/db/warehouse-writer';
import { InvalidInputError, NotYetAvailableError, TotesError } from '../../src/errors';
import { dimDate, dimPaymentType, dimTransaction, factPayment, dimCounterparty, dimCurrency } from '../../src/schemas/warehouse';
import { dimDateRow } from '../../src/stages/shared/dim-date';
import { createTestDatabase, dropDatabase, type TestDatabase } from '../support/pg';
import { batches, count, counterpartyRow, createWarehouseSchemas, currencyRow } from '../stages/load/fixtures';

let database: TestDatabase;
let pool: pg.Pool;
let names: WarehouseSchemaNames;
let warehouse: PgWarehouse;

beforeAll(async () => {
  database = await createTestDatabase('totes_writer');
  pool = new pg.Pool({ connectionString: database.url, max: 6 });
});

afterAll(async () => {
  await pool.end();
  await database.drop();
});

beforeEach(async () => {
  names = await createWarehouseSchemas(pool);
  warehouse = new PgWarehouse(pool, names);
});

const V1 = '2024-11-20 15:22:10.531518';
const star = (table: string) => `"${names.schema}"."${table}"`;

function paymentRow(id: number, paid: boolean) {
  return {
    payment_id: id, created_date: '2024-11-20', created_time: '15:22:10.531518', last_updated_date: '2024-11-21',
    last_updated_time: '09:38:15.221234', transaction_id: 1, counterparty_id: 1, payment_amount: '12345678.90',
    currency_id: 1, payment_type_id: 3, paid, payment_date: '2024-11-22',
  };
}

async function loadPaymentDimensions(): Promise<void> {
  await warehouse.applyDimension(dimTransaction, batches(dimTransaction, [{ transaction_id: 1, transaction_type: 'SALE', sales_order_id: 9, purchase_order_id: null, _source_version: V1 }]), { key: 'dim_transaction/1' });
  await warehouse.applyDimension(dimPaymentType, batches(dimPaymentType, [{ payment_type_id: 3, payment_type_name: 'SALES_REFUND', _source_version: V1 }]), { key: 'dim_payment_type/1' });
  await warehouse.applyDimension(dimCounterparty, batches(dimCounterparty, [counterpartyRow(1, V1)]), { key: 'dim_counterparty/1' });
  await warehouse.applyDimension(dimCurrency, batches(dimCurrency, [currencyRow(1, 'GBP', 'Pound Sterling', V1)]), { key: 'dim_currency/1' });
}

const paymentDates = ['2024-11-20', '2024-11-21', '2024-11-22'].map(dimDateRow);

/** A pool on the test database that records the text of every statement its clients send. */
function recordingPool(): { recording: pg.Pool; statements: string[] } {
  const statements: string[] = [];
  const recording = new pg.Pool({ connectionString: database.url, max: 2 });
  recording.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
      if (text) statements.push(text);
      return query(...args);
    };
  });
  return { recording, statements };
}

/** Runs `work` on a warehouse over a pool of its own that records every statement, and closes that pool. */
async function withRecordingWarehouse(work: (warehouse: PgWarehouse, statements: string[]) => Promise<void>): Promise<void> {
  const { recording, statements } = recordingPool();
  try {
    await work(new PgWarehouse(recording, names), statements);
  } finally {
    await recording.end();
  }
}

describe('PgWarehouse', () => {
  it('loads payments with booleans and unconstrained numerics exactly', async () => {
    // prepare
    await loadPaymentDimensions();

    // act
    const outcome = await warehouse.applyFacts(factPayment, batches(factPayment, [paymentRow(1, true), paymentRow(2, false)]), { key: 'fact_payment/1', dates: () => paymentDates });

    // assert
    expect(outcome).toEqual({ status: 'applied', rowsApplied: 2 });
    const rows = await pool.query(`SELECT payment_id, paid, payment_amount::text FROM ${star('fact_payment')} ORDER BY payment_id`);
    expect(rows.rows).toEqual([
      { payment_id: 1, paid: true, payment_amount: '12345678.90' },
      { payment_id: 2, paid: false, payment_amount: '12345678.90' },
    ]);
  });

  it('loads the same fact object concurrently exactly once', async () => {
    // prepare
    await loadPaymentDimensions();
    const rows = [paymentRow(1, true), paymentRow(2, false), paymentRow(3, true)];

    // act
    const outcomes = await Promise.all([1, 2, 3, 4].map((attempt) => warehouse.applyFacts(factPayment, batches(factPayment, rows), { key: `fact_payment/${attempt}`, dates: () => paymentDates })));

    // assert
    const applied = outcomes.map((outcome) => (outcome.status === 'applied' ? outcome.rowsApplied : -1));
    expect(applied.reduce((sum, each) => sum + each, 0)).toBe(3);
    expect(await count(pool, star('fact_payment'))).toBe(3);
    expect(await count(pool, star('dim_date'))).toBe(3);
  });

  it('reports missing dimensions and writes nothing, not even the dates', async () => {
    // prepare: no dimensions at all

    // act
    const outcome = await warehouse.applyFacts(factPayment, batches(factPayment, [paymentRow(1, true)]), { key: 'fact_payment/1', dates: () => paymentDates });

    // assert
    expect(outcome).toEqual({
      status: 'waiting',
      missing: [
        { table: 'dim_transaction', column: 'transaction_id', factColumn: 'transaction_id', ids: ['1'], rows: 1 },
        { table: 'dim_counterparty', column: 'counterparty_id', factColumn: 'counterparty_id', ids: ['1'], rows: 1 },
        { table: 'dim_currency', column: 'currency_id', factColumn: 'currency_id', ids: ['1'], rows: 1 },
        { table: 'dim_payment_type', column: 'payment_type_id', factColumn: 'payment_type_id', ids: ['3'], rows: 1 },
      ],
    });
    expect(await count(pool, star('dim_date'))).toBe(0);
    expect(await count(pool, `"${names.bookkeepingSchema}".load_log`)).toBe(0);
  });

  it.each([
    ['the COPY input refuses', { currency_id: 'GBP' }, /^fact_payment object fact_payment\/bad: row 2, column currency_id: "GBP" is not a 32-bit integer$/],
    ['PostgreSQL refuses', { paid: null }, /^fact_payment object fact_payment\/bad: null value in column "paid"/],
  ])('fails a value %s as invalid input, rolls back, and keeps the pool usable', async (_who, change, message) => {
    // prepare: a value the stage's validation would have caught, sent straight to the writer
    await loadPaymentDimensions();
    const broken = { ...paymentRow(1, true), ...change };

    // act
    const failure = await warehouse.applyFacts(factPayment, batches(factPayment, [paymentRow(2, true), broken]), { key: 'fact_payment/bad', dates: () => paymentDates }).catch((error: unknown) => error);

    // assert
    expect(failure).toBeInstanceOf(InvalidInputError);
    expect((failure as Error).message).toMatch(message);
    expect(await count(pool, star('fact_payment'))).toBe(0);
    expect(await count(pool, star('dim_date'))).toBe(0);
    const retry = await warehouse.applyFacts(factPayment, batches(factPayment, [paymentRow(2, true)]), { key: 'fact_payment/good', dates: () => paymentDates });
    expect(retry).toEqual({ status: 'applied', rowsApplied: 1 });
  });

  it('fails with a retryable error when the warehouse cannot be reached', async () => {
    // prepare
    const unreachable = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/nowhere', connectionTimeoutMillis: 2000 });
    const offline = new PgWarehouse(unreachable, names);

    // act
    const failure = await offline.applyDates(batches(dimDate, [dimDateRow('2024-01-01')]), { key: 'dim_date/1' }).catch((error: unknown) => error);
    await unreachable.end();

    // assert
    expect(failure).toBeInstanceOf(TotesError);
    expect((failure as TotesError).retryable).toBe(true);
    expect((failure as Error).message).toBe('cannot connect to the warehouse to load dim_date/1');
  });
});

describe('PgWarehouse reference checks', () => {
  /** A login role that owns nothing: it may load, but not set session_replication_role unless granted. */
  async function withLoaderRole<T>(work: (loaderPool: pg.Pool, role: string) => Promise<T>): Promise<T> {
    const role = `totes_loader_${Math.random().toString(36).slice(2, 10)}`;
    await pool.query(`CREATE ROLE "${role}" LOGIN`);
    for (const schema of [names.schema, names.bookkeepingSchema]) {
      await pool.query(`GRANT USAGE, CREATE ON SCHEMA "${schema}" TO "${role}"`);
      await pool.query(`GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA "${schema}" TO "${role}"`);
      await pool.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA "${schema}" TO "${role}"`);
    }
    await pool.query(`GRANT TEMPORARY ON DATABASE "${database.name}" TO "${role}"`);
    const loaderPool = new pg.Pool({ connectionString: database.url.replace('postgres@', `${role}@`), max: 2 });
    try {
      return await work(loaderPool, role);
    } finally {
      await loaderPool.end();
      await pool.query(`DROP OWNED BY "${role}"`);
      await pool.query(`DROP ROLE "${role}"`);
    }
  }

  async function checkOf(target: PgWarehouse, targetPool: pg.Pool): Promise<string> {
    const client = await targetPool.connect();
    try {
      return await target.referenceCheck(client);
    } finally {
      client.release();
    }
  }

  it('checks references set-based for a role that may, and falls back to per-row triggers for one that may not', async () => {
    // prepare
    await loadPaymentDimensions();

    await withLoaderRole(async (loaderPool, role) => {
      // act: a role without the privilege
      const plain = new PgWarehouse(loaderPool, names);
      const plainCheck = await checkOf(plain, loaderPool);
      const plainOutcome = await plain.applyFacts(factPayment, batches(factPayment, [paymentRow(1, true)]), { key: 'fact_payment/plain', dates: () => paymentDates });
      const plainMissing = await plain.applyFacts(factPayment, batches(factPayment, [{ ...paymentRow(2, true), currency_id: 7 }]), { key: 'fact_payment/missing', dates: () => paymentDates });
      // act: the same role once granted the parameter (PostgreSQL 15)
      await pool.query(`GRANT SET ON PARAMETER session_replication_role TO "${role}"`);
      const granted = new PgWarehouse(loaderPool, names);
      const grantedCheck = await checkOf(granted, loaderPool);
      const grantedOutcome = await granted.applyFacts(factPayment, batches(factPayment, [paymentRow(3, true)]), { key: 'fact_payment/granted', dates: () => paymentDates });
      await pool.query(`REVOKE SET ON PARAMETER session_replication_role FROM "${role}"`);

      // assert
      expect(plainCheck).toBe('per-row');
      expect(plainOutcome).toEqual({ status: 'applied', rowsApplied: 1 });
      expect(plainMissing).toMatchObject({ status: 'waiting', missing: [{ table: 'dim_currency', ids: ['7'], rows: 1 }] });
      expect(grantedCheck).toBe('set-based');
      expect(grantedOutcome).toEqual({ status: 'applied', rowsApplied: 1 });
    });
    expect(await checkOf(warehouse, pool)).toBe('set-based');
    expect(await checkOf(new PgWarehouse(pool, names, { referenceCheck: 'per-row' }), pool)).toBe('per-row');
    expect(await count(pool, star('fact_payment'))).toBe(2);
  });

  it.each(['set-based', 'per-row'] as const)('%s: a dimension row deleted while a fact load refers to it is either kept or reported missing, never orphaned', async (mode) => {
    // prepare: another session deletes currency 1 and holds its transaction open
    await loadPaymentDimensions();
    const target = new PgWarehouse(pool, names, { referenceCheck: mode });
    const deleter = await pool.connect();
    try {
      await deleter.query('BEGIN');
      await deleter.query(`DELETE FROM ${star('dim_currency')} WHERE currency_id = 1`);

      // act: the load must wait for that transaction, then see the row gone
      let settled = false;
      const loading = target.applyFacts(factPayment, batches(factPayment, [paymentRow(1, true)]), { key: `fact_payment/${mode}`, dates: () => paymentDates }).then(
        (outcome) => ({ outcome }),
        (error: unknown) => ({ error }),
      );
      void loading.then(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const settledWhileLocked = settled;
      await deleter.query('COMMIT');
      const result = await loading;

      // assert
      expect(settledWhileLocked).toBe(false);
      if (mode === 'set-based') expect(result).toMatchObject({ outcome: { status: 'waiting', missing: [{ table: 'dim_currency', ids: ['1'] }] } });
      else expect((result as { error: unknown }).error).toBeInstanceOf(NotYetAvailableError);
      expect(await count(pool, star('fact_payment'))).toBe(0);
    } finally {
      await deleter.query('ROLLBACK').catch(() => undefined);
      deleter.release();
    }
  });

  it('set-based: checks a file whose references all exist by locking alone, with no anti-join, however often a key repeats', async () => {
    // prepare: every payment refers to the same transaction, counterparty, currency and type
    await loadPaymentDimensions();
    const rows = Array.from({ length: 50 }, (_, index) => paymentRow(index + 1, index % 2 === 0));

    await withRecordingWarehouse(async (recorded, statements) => {
      // act
      const outcome = await recorded.applyFacts(factPayment, batches(factPayment, rows), { key: 'fact_payment/many', dates: () => paymentDates });

      // assert
      expect(outcome).toEqual({ status: 'applied', rowsApplied: 50 });
      expect(statements.filter((text) => text.includes('FOR KEY SHARE'))).toHaveLength(5);
      expect(statements.filter((text) => text.includes('NOT EXISTS'))).toEqual([]);
    });
  });

  it('leaves no row trigger disabled after the load: a later orphan insert on the same connections is still refused', async () => {
    // prepare
    await loadPaymentDimensions();
    await warehouse.applyFacts(factPayment, batches(factPayment, [paymentRow(1, true)]), { key: 'fact_payment/1', dates: () => paymentDates });

    // act: every pooled connection, as a plain writer would use it
    const attempts = await Promise.all(
      [1, 2, 3].map((attempt) =>
        pool
          .query(`INSERT INTO ${star('fact_payment')} (payment_id, created_date, created_time, last_updated_date, last_updated_time, transaction_id, counterparty_id,
                  payment_amount, currency_id, payment_type_id, paid, payment_date)
                  VALUES ($1, '2024-11-20', '00:00', '2024-11-20', '00:00', 1, 1, 1, 99, 3, true, '2024-11-20')`, [100 + attempt])
          .then(() => 'inserted', (error: { code?: string }) => error.code),
      ),
    );

    // assert
    expect(attempts).toEqual(['23503', '23503', '23503']);
  });
});

describe('PgWarehouse inserts rows it has never seen without merging, and merges only on a conflict', () => {
  const paymentTypes = (entries: Array<[id: number, name: string, version: string]>) =>
    batches(dimPaymentType, entries.map(([payment_type_id, payment_type_name, _source_version]) => ({ payment_type_id, payment_type_name, _source_version })));

  it('copies a dimension file of new ids straight into the dimension and its version table, with no staging table and no INSERT', async () => {
    // prepare
    await withRecordingWarehouse(async (recorded, statements) => {
      // act
      const outcome = await recorded.applyDimension(dimPaymentType, paymentTypes([[1, 'SALE', V1], [2, 'REFUND', '2024-12-01 00:00:00.000000']]), { key: 'dim_payment_type/new' });

      // assert
      expect(outcome).toEqual({ rowsApplied: 2 });
      expect(statements.filter((text) => text.startsWith('COPY'))).toEqual([
        `COPY ${star('dim_payment_type')} ("payment_type_id", "payment_type_name") FROM STDIN (FORMAT binary)`,
        `COPY "${names.bookkeepingSchema}"."dim_payment_type_version" ("natural_id", "version") FROM STDIN (FORMAT binary)`,
      ]);
      expect(statements.filter((text) => text.includes('"totes_staging"') || text.startsWith('INSERT INTO') || text.startsWith('WITH'))).toEqual([
        expect.stringContaining('load_log'),
      ]);
      expect(statements.filter((text) => text.startsWith('ROLLBACK TO SAVEPOINT'))).toEqual([]);
      const rows = await pool.query(`SELECT payment_type_id, payment_type_name FROM ${star('dim_payment_type')} ORDER BY 1`);
      expect(rows.rows).toEqual([{ payment_type_id: 1, payment_type_name: 'SALE' }, { payment_type_id: 2, payment_type_name: 'REFUND' }]);
      const versions = await pool.query(`SELECT natural_id, version FROM "${names.bookkeepingSchema}".dim_payment_type_version ORDER BY natural_id`);
      expect(versions.rows).toEqual([{ natural_id: 1, version: V1 }, { natural_id: 2, version: '2024-12-01 00:00:00.000000' }]);
    });
  });

  it('merges a dimension file of new ids that holds one id twice: the newer version wins, whatever its place in the file', async () => {
    // prepare
    const newer = '2024-12-01 00:00:00.000000';

    await withRecordingWarehouse(async (recorded, statements) => {
      // act
      const outcome = await recorded.applyDimension(dimPaymentType, paymentTypes([[7, 'SEVEN NEWER', newer], [6, 'SIX', V1], [7, 'SEVEN OLDER', V1]]), { key: 'dim_payment_type/twice' });

      // assert
      expect(outcome).toEqual({ rowsApplied: 2 });
      expect(statements.filter((text) => text.startsWith('ROLLBACK TO SAVEPOINT'))).toEqual(['ROLLBACK TO SAVEPOINT totes_copy_dimension']);
      const rows = await pool.query(`SELECT payment_type_id, payment_type_name FROM ${star('dim_payment_type')} ORDER BY 1`);
      expect(rows.rows).toEqual([{ payment_type_id: 6, payment_type_name: 'SIX' }, { payment_type_id: 7, payment_type_name: 'SEVEN NEWER' }]);
      const versions = await pool.query(`SELECT natural_id, version FROM "${names.bookkeepingSchema}".dim_payment_type_version ORDER BY natural_id`);
      expect(versions.rows).toEqual([{ natural_id: 6, version: V1 }, { natural_id: 7, version: newer }]);
    });
  });

  it('merges a dimension file once its COPY meets a known id: new ids once, newer versions applied, older ones ignored', async () => {
    // prepare: id 3 is known at an older version, id 5 at a newer one; the COPY has written 1 and 2 when it meets 3
    const older = '2024-11-01 00:00:00.000000';
    const newer = '2024-12-01 00:00:00.000000';
    await warehouse.applyDimension(dimPaymentType, paymentTypes([[3, 'THREE OLD', older], [5, 'FIVE NEWER', newer]]), { key: 'dim_payment_type/known' });

    await withRecordingWarehouse(async (recorded, statements) => {
      // act
      const outcome = await recorded.applyDimension(
        dimPaymentType,
        paymentTypes([[1, 'ONE', V1], [2, 'TWO', V1], [3, 'THREE', V1], [4, 'FOUR', V1], [5, 'FIVE STALE', V1]]),
        { key: 'dim_payment_type/mixed' },
      );

      // assert
      expect(outcome).toEqual({ rowsApplied: 4 });
      expect(statements.filter((text) => text.startsWith('ROLLBACK TO SAVEPOINT'))).toHaveLength(1);
      const rows = await pool.query(`SELECT payment_type_id, payment_type_name FROM ${star('dim_payment_type')} ORDER BY 1`);
      expect(rows.rows.map((row: { payment_type_name: string }) => row.payment_type_name)).toEqual(['ONE', 'TWO', 'THREE', 'FOUR', 'FIVE NEWER']);
      const versions = await pool.query(`SELECT natural_id, version FROM "${names.bookkeepingSchema}".dim_payment_type_version ORDER BY natural_id`);
      expect(versions.rows).toEqual([
        { natural_id: 1, version: V1 }, { natural_id: 2, version: V1 }, { natural_id: 3, version: V1 }, { natural_id: 4, version: V1 }, { natural_id: 5, version: newer },
      ]);
    });
  });

  it('copies a fact file of new versions straight into the fact table, with no staging table and no INSERT', async () => {
    // prepare
    await loadPaymentDimensions();

    await withRecordingWarehouse(async (recorded, statements) => {
      // act
      const outcome = await recorded.applyFacts(factPayment, batches(factPayment, [1, 2, 3].map((id) => paymentRow(id, true))), { key: 'fact_payment/new', dates: () => paymentDates });

      // assert
      expect(outcome).toEqual({ status: 'applied', rowsApplied: 3 });
      expect(statements.filter((text) => text.startsWith(`COPY ${star('fact_payment')}`))).toHaveLength(1);
      expect(statements.filter((text) => text.includes('"totes_staging"') || text.startsWith(`INSERT INTO ${star('fact_payment')}`))).toEqual([]);
      expect(statements.filter((text) => text.startsWith('ROLLBACK TO SAVEPOINT'))).toEqual([]);
      expect(await count(pool, star('fact_payment'))).toBe(3);
    });
  });

  it('takes the staged path at once for a redelivered fact object, which likely waits for a dimension row or is partly in', async () => {
    // prepare
    await loadPaymentDimensions();

    await withRecordingWarehouse(async (recorded, statements) => {
      // act
      const outcome = await recorded.applyFacts(factPayment, batches(factPayment, [paymentRow(1, true)]), { key: 'fact_payment/again', dates: () => paymentDates, redelivered: true });

      // assert
      expect(outcome).toEqual({ status: 'applied', rowsApplied: 1 });
      expect(statements.filter((text) => text.startsWith(`COPY ${star('fact_payment')}`) || text.includes('totes_copy_facts'))).toEqual([]);
      expect(statements.filter((text) => text.startsWith('COPY "totes_staging"'))).toHaveLength(1);
    });
  });

  it('merges a fact file once its insert meets a version already loaded, and loads every other version once', async () => {
    // prepare: payment 4 is loaded already; the one-pass COPY reaches it after 1–3
    await loadPaymentDimensions();
    await warehouse.applyFacts(factPayment, batches(factPayment, [paymentRow(4, true)]), { key: 'fact_payment/earlier', dates: () => paymentDates });

    await withRecordingWarehouse(async (recorded, statements) => {
      // act
      const outcome = await recorded.applyFacts(factPayment, batches(factPayment, [1, 2, 3, 4, 5].map((id) => paymentRow(id, false))), { key: 'fact_payment/mixed', dates: () => paymentDates });

      // assert
      expect(outcome).toEqual({ status: 'applied', rowsApplied: 4 });
      const rows = await pool.query(`SELECT payment_id, count(*)::int AS versions FROM ${star('fact_payment')} GROUP BY payment_id ORDER BY payment_id`);
      expect(rows.rows).toEqual([1, 2, 3, 4, 5].map((payment_id) => ({ payment_id, versions: 1 })));
      // the COPY's savepoint is rolled back, and the merge runs without a second try of a plain insert
      expect(statements.filter((text) => text.startsWith('ROLLBACK TO SAVEPOINT'))).toEqual(['ROLLBACK TO SAVEPOINT totes_copy_facts']);
    });
  });
});

describe('PgWarehouse in a database whose locale does not sort in byte order', () => {
  it('compares source versions byte by byte, as the transform does', async () => {
    // prepare: under ICU en-US ':' sorts before digits; in byte order (and in JavaScript) after
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    const icuName = `${database.name}_icu`;
    await admin.query(`CREATE DATABASE "${icuName}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    const icuPool = new pg.Pool({ connectionString: database.url.replace(database.name, icuName), max: 2 });
    try {
      const icuNames = await createWarehouseSchemas(icuPool);
      const icuWarehouse = new PgWarehouse(icuPool, icuNames);
      const ordered = await icuPool.query<{ icu_says_colon_is_older: boolean }>(`SELECT 'v:' < 'v1' AS icu_says_colon_is_older`);
      expect(ordered.rows[0]?.icu_says_colon_is_older).toBe(true);
      expect('v:' > 'v1').toBe(true);
      await icuWarehouse.applyDimension(dimPaymentType, batches(dimPaymentType, [{ payment_type_id: 1, payment_type_name: 'OLD', _source_version: 'v1' }]), { key: 'a' });

      // act
      const outcome = await icuWarehouse.applyDimension(dimPaymentType, batches(dimPaymentType, [{ payment_type_id: 1, payment_type_name: 'NEW', _source_version: 'v:' }]), { key: 'b' });

      // assert
      expect(outcome).toEqual({ rowsApplied: 1 });
      const rows = await icuPool.query(`SELECT payment_type_name FROM "${icuNames.schema}".dim_payment_type`);
      expect(rows.rows).toEqual([{ payment_type_name: 'NEW' }]);
    } finally {
      await icuPool.end();
      await dropDatabase(admin, icuName);
      await admin.end();
    }
  });
});

describe('keyArrayParameter', () => {
  it('hands PostgreSQL integer keys as an array literal it reads back exactly, and any other keys as an array', async () => {
    const ids = [7, -3, 0, 2_147_483_647, 1_333_333];
    expect(keyArrayParameter(ids)).toBe('{7,-3,0,2147483647,1333333}');
    const readBack = await pool.query<{ keys: number[] }>('SELECT $1::int[] AS keys', [keyArrayParameter(ids)]);
    expect(readBack.rows[0]?.keys).toEqual(ids);
    const none = await pool.query<{ keys: number[] }>('SELECT $1::int[] AS keys', [keyArrayParameter([])]);
    expect(none.rows[0]?.keys).toEqual([]);

    const dates = ['2024-11-20', '2024-11-21'];
    expect(keyArrayParameter(dates)).toBe(dates);
    // A fraction or an integer beyond 2^53 would not print as plain digits: pg converts those.
    expect(keyArrayParameter([1, 2.5])).toEqual([1, 2.5]);
    expect(keyArrayParameter([1, 2 ** 60])).toEqual([1, 2 ** 60]);
    const texts = await pool.query<{ keys: string[] }>('SELECT $1::date[]::text[] AS keys', [keyArrayParameter(dates)]);
    expect(texts.rows[0]?.keys).toEqual(dates);
  });
});

describe('translatePgError', () => {
  const context = { stage: 'load' as const, table: 'fact_payment', key: 'k' };
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('maps a foreign key violation to a retryable NotYetAvailableError', () => {
    // prepare / act
    const error = translatePgError(pgError('23503', 'violates foreign key constraint'), context);

    // assert
    expect(error).toBeInstanceOf(NotYetAvailableError);
    expect(error.retryable).toBe(true);
  });

  it('maps data exceptions to InvalidInputError and connection loss to a retryable error', () => {
    // prepare / act / assert
    expect(translatePgError(pgError('22003', 'numeric field overflow'), context)).toBeInstanceOf(InvalidInputError);
    expect(translatePgError(pgError('57P01', 'terminating connection due to administrator command'), context).retryable).toBe(true);
    expect(translatePgError(pgError('40P01', 'deadlock detected'), context).retryable).toBe(true);
    expect(translatePgError(new Error('Connection terminated unexpectedly'), context).retryable).toBe(true);
    expect(translatePgError(pgError('42P01', 'relation does not exist'), context).retryable).toBe(false);
  });
});
