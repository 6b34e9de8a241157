import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWarehouseSchema } from '../../src/db/warehouse-ddl';
import { createTestDatabase, type TestDatabase } from '../support/pg';

let database: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase('totes_ddl');
  pool = new pg.Pool({ connectionString: database.url, max: 6 });
});

afterAll(async () => {
  await pool.end();
  await database.drop();
});

/** Everything a re-run could change: tables, columns, constraints, indexes, in both schemas. */
async function catalogSnapshot(): Promise<string> {
  const result = await pool.query<{ item: string }>(`
    SELECT 'column ' || table_schema || '.' || table_name || '.' || column_name || ' ' || ordinal_position || ' ' ||
           data_type || ' ' || coalesce(numeric_precision::text, '') || ',' || coalesce(numeric_scale::text, '') || ' ' ||
           coalesce(datetime_precision::text, '') || ' ' || is_nullable || ' ' || is_identity AS item
      FROM information_schema.columns WHERE table_schema IN ('public', 'totes')
    UNION ALL
    SELECT 'constraint ' || con.oid || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
      FROM pg_constraint con JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname IN ('public', 'totes')
    UNION ALL
    SELECT 'index ' || schemaname || '.' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname IN ('public', 'totes')
    UNION ALL
    SELECT 'table ' || c.oid || ' ' || n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('public', 'totes') AND c.relkind IN ('r', 'i', 'S')
    ORDER BY 1`);
  return result.rows.map((row) => row.item).join('\n');
}

describe('ensureWarehouseSchema', () => {
  it('creates exactly the 11 star tables with the spec columns, types and nullability in order', async () => {
    // prepare: an empty database
    // act
    await ensureWarehouseSchema(pool);

    // assert
    const tables = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.rows.map((row) => row.table_name)).toEqual([
      'dim_counterparty', 'dim_currency', 'dim_date', 'dim_design', 'dim_location', 'dim_payment_type', 'dim_staff',
      'dim_transaction', 'fact_payment', 'fact_purchase_order', 'fact_sales_order',
    ]);
    const columns = await pool.query<{ column_name: string; data_type: string; is_nullable: string; is_identity: string; numeric_precision: number | null; numeric_scale: number | null; datetime_precision: number | null }>(
      `SELECT column_name, data_type, is_nullable, is_identity, numeric_precision, numeric_scale, datetime_precision
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'fact_sales_order' ORDER BY ordinal_position`,
    );
    expect(columns.rows.map((row) => `${row.column_name} ${row.data_type} ${row.is_nullable} ${row.is_identity}`)).toEqual([
      'sales_record_id integer NO YES',
      'sales_order_id integer NO NO',
      'created_date date NO NO',
      'created_time time without time zone NO NO',
      'last_updated_date date NO NO',
      'last_updated_time time without time zone NO NO',
      'sales_staff_id integer NO NO',
      'counterparty_id integer NO NO',
      'units_sold integer NO NO',
      'unit_price numeric NO NO',
      'currency_id integer NO NO',
      'design_id integer NO NO',
      'agreed_payment_date date NO NO',
      'agreed_delivery_date date NO NO',
      'agreed_delivery_location_id integer NO NO',
    ]);
    const unitPrice = columns.rows.find((row) => row.column_name === 'unit_price');
    expect([unitPrice?.numeric_precision, unitPrice?.numeric_scale]).toEqual([10, 2]);
    expect(columns.rows.find((row) => row.column_name === 'created_time')?.datetime_precision).toBe(6);

    const location = await pool.query<{ column_name: string; is_nullable: string; data_type: string }>(
      `SELECT column_name, is_nullable, data_type FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'dim_location' ORDER BY ordinal_position`,
    );
    expect(location.rows.map((row) => `${row.column_name} ${row.data_type} ${row.is_nullable}`)).toEqual([
      'location_id integer NO',
      'address_line_1 character varying NO',
      'address_line_2 character varying YES',
      'district character varying YES',
      'city character varying NO',
      'postal_code character varying NO',
      'country character varying NO',
      'phone character varying NO',
    ]);
    const columnCounts = await pool.query<{ table_name: string; count: string }>(
      `SELECT table_name, count(*) FROM information_schema.columns WHERE table_schema = 'public' GROUP BY table_name ORDER BY table_name`,
    );
    expect(Object.fromEntries(columnCounts.rows.map((row) => [row.table_name, Number(row.count)]))).toEqual({
      dim_counterparty: 9, dim_currency: 3, dim_date: 8, dim_design: 4, dim_location: 8, dim_payment_type: 2,
      dim_staff: 6, dim_transaction: 4, fact_payment: 13, fact_purchase_order: 15, fact_sales_order: 15,
    });
  });

  it('enforces every foreign key of the spec and one version key per fact', async () => {
    // prepare
    await ensureWarehouseSchema(pool);

    // act
    const foreignKeys = await pool.query<{ fk: string }>(`
      SELECT kcu.table_name || '.' || kcu.column_name || ' -> ' || ccu.table_name || '.' || ccu.column_name AS fk
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
        JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name AND ccu.table_schema = tc.table_schema
       WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = 'public' ORDER BY 1`);
    const uniques = await pool.query<{ table_name: string; columns: string }>(`
      SELECT tc.table_name, string_agg(kcu.column_name, ',' ORDER BY kcu.ordinal_position) AS columns
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema
       WHERE tc.constraint_type = 'UNIQUE' AND tc.table_schema = 'public' GROUP BY tc.table_name ORDER BY 1`);

    // assert
    expect(foreignKeys.rows.map((row) => row.fk)).toEqual([
      'fact_payment.counterparty_id -> dim_counterparty.counterparty_id',
      'fact_payment.created_date -> dim_date.date_id',
      'fact_payment.currency_id -> dim_currency.currency_id',
      'fact_payment.last_updated_date -> dim_date.date_id',
      'fact_payment.payment_date -> dim_date.date_id',
      'fact_payment.payment_type_id -> dim_payment_type.payment_type_id',
      'fact_payment.transaction_id -> dim_transaction.transaction_id',
      'fact_purchase_order.agreed_delivery_date -> dim_date.date_id',
      'fact_purchase_order.agreed_delivery_location_id -> dim_location.location_id',
      'fact_purchase_order.agreed_payment_date -> dim_date.date_id',
      'fact_purchase_order.counterparty_id -> dim_counterparty.counterparty_id',
      'fact_purchase_order.created_date -> dim_date.date_id',
      'fact_purchase_order.currency_id -> dim_currency.currency_id',
      'fact_purchase_order.last_updated_date -> dim_date.date_id',
      'fact_purchase_order.staff_id -> dim_staff.staff_id',
      'fact_sales_order.agreed_delivery_date -> dim_date.date_id',
      'fact_sales_order.agreed_delivery_location_id -> dim_location.location_id',
      'fact_sales_order.agreed_payment_date -> dim_date.date_id',
      'fact_sales_order.counterparty_id -> dim_counterparty.counterparty_id',
      'fact_sales_order.created_date -> dim_date.date_id',
      'fact_sales_order.currency_id -> dim_currency.currency_id',
      'fact_sales_order.design_id -> dim_design.design_id',
      'fact_sales_order.last_updated_date -> dim_date.date_id',
      'fact_sales_order.sales_staff_id -> dim_staff.staff_id',
    ]);
    expect(uniques.rows).toEqual([
      { table_name: 'fact_payment', columns: 'payment_id,last_updated_date,last_updated_time' },
      { table_name: 'fact_purchase_order', columns: 'purchase_order_id,last_updated_date,last_updated_time' },
      { table_name: 'fact_sales_order', columns: 'sales_order_id,last_updated_date,last_updated_time' },
    ]);
  });

  it('keeps its bookkeeping in the totes schema', async () => {
    // prepare
    await ensureWarehouseSchema(pool);

    // act
    const tables = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'totes' ORDER BY table_name`,
    );

    // assert
    expect(tables.rows.map((row) => row.table_name)).toEqual([
      'dim_counterparty_version', 'dim_currency_version', 'dim_design_version', 'dim_location_version',
      'dim_payment_type_version', 'dim_staff_version', 'dim_transaction_version', 'load_log',
    ]);
  });

  it('changes nothing when run again, even by several processes at once', async () => {
    // prepare
    await ensureWarehouseSchema(pool);
    const before = await catalogSnapshot();

    // act
    await Promise.all([ensureWarehouseSchema(pool), ensureWarehouseSchema(pool), ensureWarehouseSchema(pool)]);
    await ensureWarehouseSchema(pool);

    // assert
    expect(await catalogSnapshot()).toBe(before);
  });

  it('creates the schema concurrently from scratch without a catalog race', async () => {
    // prepare
    const fresh = await createTestDatabase('totes_ddl_race');
    const freshPool = new pg.Pool({ connectionString: fresh.url, max: 4 });
    try {
      // act
      await Promise.all([1, 2, 3, 4].map(() => ensureWarehouseSchema(freshPool)));

      // assert
      const count = await freshPool.query<{ count: string }>(
        `SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('public', 'totes')`,
      );
      expect(Number(count.rows[0]?.count)).toBe(19);
    } finally {
      await freshPool.end();
      await fresh.drop();
    }
  });

  it('adds a constraint that an existing table is missing', async () => {
    // prepare
    await ensureWarehouseSchema(pool);
    await pool.query('ALTER TABLE public.fact_payment DROP CONSTRAINT fact_payment_version_key');

    // act
    await ensureWarehouseSchema(pool);

    // assert
    const constraint = await pool.query(
      `SELECT 1 FROM pg_constraint WHERE conname = 'fact_payment_version_key' AND conrelid = 'public.fact_payment'::regclass`,
    );
    expect(constraint.rowCount).toBe(1);
  });

  it('indexes each fact by its dates with one BRIN over all date columns, and retires the per-column BRINs of earlier releases', async () => {
    // prepare: fact_payment as earlier releases left it, with a BRIN per date column
    await ensureWarehouseSchema(pool);
    await pool.query('DROP INDEX public.fact_payment_dates_brin');
    for (const column of ['created_date', 'last_updated_date', 'payment_date']) {
      await pool.query(`CREATE INDEX fact_payment_${column}_brin ON public.fact_payment USING brin (${column})`);
    }

    // act
    await ensureWarehouseSchema(pool);

    // assert
    const indexes = await pool.query<{ tablename: string; indexdef: string }>(
      `SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE '%USING brin%' ORDER BY tablename`,
    );
    expect(indexes.rows.map((row) => `${row.tablename}: ${row.indexdef.replace(/^.* USING brin /, '')}`)).toEqual([
      'fact_payment: (created_date, last_updated_date, payment_date)',
      'fact_purchase_order: (created_date, last_updated_date, agreed_delivery_date, agreed_payment_date)',
      'fact_sales_order: (created_date, last_updated_date, agreed_payment_date, agreed_delivery_date)',
    ]);
  });

  it('moves the versions of the single version table of earlier releases into the per-dimension tables, and drops it', async () => {
    // prepare: a warehouse as earlier releases left it, versions keyed by table name and the id as text
    const earlier = await createTestDatabase('totes_ddl_legacy');
    const earlierPool = new pg.Pool({ connectionString: earlier.url, max: 2 });
    try {
      await ensureWarehouseSchema(earlierPool);
      await earlierPool.query('DROP TABLE totes.dim_staff_version, totes.dim_transaction_version');
      await earlierPool.query(`CREATE TABLE totes.dimension_version (
        "table_name" varchar NOT NULL, "natural_id" varchar NOT NULL, "version" varchar COLLATE "C" NOT NULL,
        "updated_at" timestamptz NOT NULL DEFAULT now(), CONSTRAINT "dimension_version_pkey" PRIMARY KEY ("table_name", "natural_id"))`);
      await earlierPool.query(`INSERT INTO totes.dimension_version ("table_name", "natural_id", "version", "updated_at") VALUES
        ('dim_staff', '10', '2024-01-02 00:00:00.000000', '2024-01-03T00:00:00Z'),
        ('dim_staff', '9', '2024-01-01 00:00:00.000000', '2024-01-03T00:00:00Z'),
        ('dim_transaction', '10', '2024-02-01 00:00:00.000000', '2024-02-02T00:00:00Z')`);

      // act
      await ensureWarehouseSchema(earlierPool);

      // assert
      const staff = await earlierPool.query('SELECT natural_id, version, updated_at FROM totes.dim_staff_version ORDER BY natural_id');
      expect(staff.rows).toEqual([
        { natural_id: 9, version: '2024-01-01 00:00:00.000000', updated_at: new Date('2024-01-03T00:00:00Z') },
        { natural_id: 10, version: '2024-01-02 00:00:00.000000', updated_at: new Date('2024-01-03T00:00:00Z') },
      ]);
      const transactions = await earlierPool.query('SELECT natural_id, version FROM totes.dim_transaction_version');
      expect(transactions.rows).toEqual([{ natural_id: 10, version: '2024-02-01 00:00:00.000000' }]);
      const legacy = await earlierPool.query(`SELECT to_regclass('totes.dimension_version') AS present`);
      expect(legacy.rows).toEqual([{ present: null }]);
    } finally {
      await earlierPool.end();
      await earlier.drop();
    }
  });

  it('creates the star tables in a configurable schema', async () => {
    // prepare
    const names = { schema: 'analytics', bookkeepingSchema: 'analytics_totes' };

    // act
    await ensureWarehouseSchema(pool, names);

    // assert
    const count = await pool.query<{ table_schema: string; count: string }>(
      `SELECT table_schema, count(*) FROM information_schema.tables WHERE table_schema IN ('analytics', 'analytics_totes')
        GROUP BY table_schema ORDER BY 1`,
    );
    expect(count.rows).toEqual([
      { table_schema: 'analytics', count: '11' },
      { table_schema: 'analytics_totes', count: '8' },
    ]);
  });
});
