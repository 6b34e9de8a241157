import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, queryRows as query, type TestDatabase } from '../support/pg';
import { seedTotesys, type SeedReport } from '../../src/seed/seed';
import { sourceTables } from '../../src/schemas/source';
import { prismaMigrationsColumns } from '../../src/db/totesys-ddl';
import type { LogFields, Logger } from '../../src/stages/ports';


async function tableChecksums(url: string): Promise<Record<string, string>> {
  const checksums: Record<string, string> = {};
  for (const table of sourceTables) {
    const id = table.primaryKey[0] as string;
    const [row] = await query<{ md5: string }>(url, `SELECT md5(string_agg(t::text, ',' ORDER BY t."${id}")) AS md5 FROM "${table.name}" t`);
    checksums[table.name] = row?.md5 ?? '';
  }
  return checksums;
}

function recordingLogger(lines: { message: string; fields: LogFields }[]): Logger {
  const record = (message: string, fields: LogFields = {}) => lines.push({ message, fields });
  const logger: Logger = { debug: record, info: record, warn: record, error: record, child: () => logger };
  return logger;
}

describe('seedTotesys with the real snapshot', () => {
  let database: TestDatabase;
  let report: SeedReport;
  const logLines: { message: string; fields: LogFields }[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('totes_seed');
    report = await seedTotesys({ url: database.url, logger: recordingLogger(logLines) });
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('creates the 11 source tables and _prisma_migrations with the schema columns in order', async () => {
    const columns = await query<{ table_name: string; column_name: string }>(
      database.url,
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
    );
    const byTable = new Map<string, string[]>();
    for (const { table_name, column_name } of columns) byTable.set(table_name, [...(byTable.get(table_name) ?? []), column_name]);

    const expected = new Map<string, string[]>(sourceTables.map((table) => [table.name, table.columns.map((column) => column.name)]));
    expected.set('_prisma_migrations', prismaMigrationsColumns.map((column) => column.name));
    expect(byTable).toEqual(expected);
  });

  it('maps column types, nullability, keys and the last_updated index from the schema', async () => {
    const types = await query<{ table_name: string; column_name: string; data_type: string; is_nullable: string; character_maximum_length: number | null }>(
      database.url,
      `SELECT table_name, column_name, data_type, is_nullable, character_maximum_length FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name IN ('sales_order', 'currency', 'transaction', 'payment')`,
    );
    const find = (table: string, column: string) => types.find((row) => row.table_name === table && row.column_name === column);
    expect(find('sales_order', 'unit_price')?.data_type).toBe('numeric');
    expect(find('sales_order', 'created_at')?.data_type).toBe('timestamp without time zone');
    expect(find('currency', 'currency_code')).toMatchObject({ data_type: 'character varying', character_maximum_length: 3, is_nullable: 'NO' });
    expect(find('sales_order', 'agreed_payment_date')?.data_type).toBe('character varying');
    expect(find('transaction', 'sales_order_id')?.is_nullable).toBe('YES');
    expect(find('sales_order', 'sales_order_id')?.is_nullable).toBe('NO');
    expect(find('payment', 'paid')?.data_type).toBe('boolean');

    const foreignKeys = await query<{ count: string }>(
      database.url,
      `SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = 'public' AND constraint_type = 'FOREIGN KEY'`,
    );
    const expectedForeignKeys = sourceTables.flatMap((table) => table.columns.filter((column) => column.references)).length;
    expect(Number(foreignKeys[0]?.count)).toBe(expectedForeignKeys);

    const indexes = await query<{ tablename: string }>(
      database.url,
      `SELECT tablename FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE '%(last_updated)%' ORDER BY tablename`,
    );
    expect(indexes.map((index) => index.tablename)).toEqual(sourceTables.map((table) => table.name).sort());
  });

  it('loads every real row of the snapshot', async () => {
    const counts = await query<Record<string, string>>(
      database.url,
      `SELECT (SELECT count(*) FROM address) AS address, (SELECT count(*) FROM counterparty) AS counterparty,
              (SELECT count(*) FROM currency) AS currency, (SELECT count(*) FROM department) AS department,
              (SELECT count(*) FROM design) AS design, (SELECT count(*) FROM staff) AS staff,
              (SELECT count(*) FROM sales_order) AS sales_order`,
    );
    expect(counts[0]).toEqual({
      address: '30', counterparty: '20', currency: '3', department: '8', design: '377', staff: '20', sales_order: '8307',
    });
    expect(report).toMatchObject({ address: 30, counterparty: 20, currency: 3, department: 8, design: 377, staff: 20, sales_order: 8307 });
  });

  it('keeps text with apostrophes, commas and parentheses, exact prices and timestamps as written', async () => {
    const [counterparty] = await query(database.url, `SELECT counterparty_legal_name FROM counterparty WHERE counterparty_id = 20`);
    const [korea] = await query(database.url, `SELECT country FROM address WHERE address_id = 10`);
    const [order] = await query<{ unit_price: string; created_at: string; last_updated: string }>(
      database.url,
      `SELECT unit_price::text, created_at::text, last_updated::text FROM sales_order WHERE sales_order_id = 875`,
    );
    const [first] = await query<{ unit_price: string; created_at: string }>(
      database.url,
      `SELECT unit_price::text, created_at::text FROM sales_order WHERE sales_order_id = 2`,
    );

    expect(counterparty).toEqual({ counterparty_legal_name: 'Yost, Watsica and Mann' });
    expect(korea).toEqual({ country: "Democratic People's Republic of Korea" });
    expect(order).toEqual({ unit_price: '2.31', created_at: '2023-02-16 09:26:10', last_updated: '2023-02-16 09:26:10' });
    expect(first).toEqual({ unit_price: '3.94', created_at: '2022-11-03 14:20:52.186' });
  });

  it('generates the 4 real payment types and one transaction and payment per order, with valid references', async () => {
    const paymentTypes = await query<{ payment_type_name: string }>(database.url, `SELECT payment_type_name FROM payment_type ORDER BY payment_type_id`);
    const [counts] = await query<Record<string, string>>(
      database.url,
      `SELECT (SELECT count(*) FROM purchase_order) AS purchase_order, (SELECT count(*) FROM transaction) AS transaction,
              (SELECT count(*) FROM payment) AS payment,
              (SELECT count(DISTINCT sales_order_id) FROM transaction WHERE transaction_type = 'SALE' AND purchase_order_id IS NULL) AS sales,
              (SELECT count(DISTINCT purchase_order_id) FROM transaction WHERE transaction_type = 'PURCHASE' AND sales_order_id IS NULL) AS purchases`,
    );

    expect(paymentTypes.map((row) => row.payment_type_name)).toEqual(['SALES_RECEIPT', 'SALES_REFUND', 'PURCHASE_PAYMENT', 'PURCHASE_REFUND']);
    expect(counts).toEqual({ purchase_order: '2769', transaction: '11076', payment: '11076', sales: '8307', purchases: '2769' });
  });

  it('leaves no dangling reference in any table', async () => {
    const danglingQueries = sourceTables.flatMap((table) =>
      table.columns.flatMap((column) =>
        column.references
          ? [`SELECT '${table.name}.${column.name}' AS reference, count(*) AS dangling FROM "${table.name}" t
               WHERE t."${column.name}" IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM "${column.references.table}" r WHERE r."${column.references.column}" = t."${column.name}")`]
          : [],
      ),
    );
    const dangling = await query<{ reference: string; dangling: string }>(database.url, danglingQueries.join(' UNION ALL '));

    expect(dangling.length).toBeGreaterThan(10);
    expect(dangling.filter((row) => row.dangling !== '0')).toEqual([]);
  });

  it('matches payments to their order: counterparty, currency, payment type and timing', async () => {
    const [mismatches] = await query<Record<string, string>>(
      database.url,
      `SELECT
         count(*) FILTER (WHERE p.counterparty_id <> o.counterparty_id OR p.currency_id <> o.currency_id) AS wrong_party,
         count(*) FILTER (WHERE pt.payment_type_name NOT LIKE CASE t.transaction_type WHEN 'SALE' THEN 'SALES_%' ELSE 'PURCHASE_%' END) AS wrong_type,
         count(*) FILTER (WHERE t.created_at <= o.created_at OR p.created_at <= t.created_at) AS too_early,
         count(*) FILTER (WHERE p.payment_date !~ '^\\d{4}-\\d{2}-\\d{2}$') AS bad_date
       FROM payment p
       JOIN transaction t USING (transaction_id)
       JOIN payment_type pt USING (payment_type_id)
       JOIN (SELECT 'SALE' AS kind, sales_order_id AS id, counterparty_id, currency_id, created_at FROM sales_order
             UNION ALL SELECT 'PURCHASE', purchase_order_id, counterparty_id, currency_id, created_at FROM purchase_order) o
         ON o.kind = t.transaction_type AND o.id = coalesce(t.sales_order_id, t.purchase_order_id)`,
    );
    expect(mismatches).toEqual({ wrong_party: '0', wrong_type: '0', too_early: '0', bad_date: '0' });
  });

  it('gives generated rows millisecond timestamps that are spread out and ascend with the id', async () => {
    const checks = await query<{ table: string; total: string; distinct_times: string; not_millis: string; descending: string }>(
      database.url,
      ['purchase_order', 'transaction', 'payment'].map((table) => `
        SELECT '${table}' AS table, count(*) AS total, count(DISTINCT created_at) AS distinct_times,
               count(*) FILTER (WHERE date_trunc('milliseconds', created_at) <> created_at) AS not_millis,
               count(*) FILTER (WHERE created_at < previous) AS descending
        FROM (SELECT created_at, lag(created_at) OVER (ORDER BY ${table}_id) AS previous FROM "${table}") t`).join(' UNION ALL '),
    );
    for (const check of checks) {
      expect(check.not_millis, check.table).toBe('0');
      expect(check.descending, check.table).toBe('0');
      expect(Number(check.distinct_times), check.table).toBeGreaterThan(Number(check.total) * 0.9);
    }
  });

  it('lets inserts without an id or timestamps use the identity and now()', async () => {
    const [inserted] = await query<{ currency_id: number; recent: boolean }>(
      database.url,
      `INSERT INTO currency (currency_code) VALUES ('CHF')
       RETURNING currency_id, last_updated > (now() AT TIME ZONE 'UTC') - interval '1 minute' AS recent`,
    );
    expect(inserted).toEqual({ currency_id: 4, recent: true });
    await query(database.url, `DELETE FROM currency WHERE currency_id = 4`);
  });

  it('reports progress per table through the logger', () => {
    const seeded = logLines.filter((line) => line.message === 'seeded table');
    expect(seeded.map((line) => line.fields.table)).toEqual(sourceTables.map((table) => table.name));
    expect(seeded.find((line) => line.fields.table === 'sales_order')?.fields).toMatchObject({ rows: 8307, rowsPerSecond: expect.any(Number) });
  });
});

describe('seedTotesys reseeding', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('totes_seed');
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('refuses to seed over existing tables without reset, changing nothing', async () => {
    await seedTotesys({ url: database.url, scale: 50 });
    await query(database.url, `UPDATE department SET location = 'Leds' WHERE department_id = 1`);

    await expect(seedTotesys({ url: database.url, scale: 50 })).rejects.toThrow(/already exist.*reset/);

    const [department] = await query(database.url, `SELECT location FROM department WHERE department_id = 1`);
    expect(department).toEqual({ location: 'Leds' });
  });

  it('with reset drops and recreates only the totesys tables', async () => {
    await query(database.url, `CREATE SCHEMA IF NOT EXISTS other; CREATE TABLE other.address (id int); INSERT INTO other.address VALUES (1)`);
    await query(database.url, `CREATE TABLE public.notes (id int); INSERT INTO public.notes VALUES (1)`);

    const report = await seedTotesys({ url: database.url, scale: 100, reset: true });

    const [counts] = await query<Record<string, string>>(
      database.url,
      `SELECT (SELECT count(*) FROM other.address) AS other, (SELECT count(*) FROM public.notes) AS notes,
              (SELECT count(*) FROM sales_order) AS sales, (SELECT max(sales_order_id) FROM sales_order) AS max_id,
              (SELECT location FROM department WHERE department_id = 1) AS location`,
    );
    expect(counts).toEqual({ other: '1', notes: '1', sales: '100', max_id: 100, location: 'Manchester' });
    expect(report).toMatchObject({ sales_order: 100, purchase_order: 33, transaction: 133, payment: 133 });
  });
});

describe('seedTotesys --scale', () => {
  const databases: TestDatabase[] = [];

  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
  });

  it('generates exactly the requested sales orders, identically for the same seed and differently for another', async () => {
    const [first, second, third] = await Promise.all([1, 2, 3].map(() => createTestDatabase('totes_seed')));
    databases.push(first!, second!, third!);

    const reports = await Promise.all([
      seedTotesys({ url: first!.url, scale: 20_000, seed: 42 }),
      seedTotesys({ url: second!.url, scale: 20_000, seed: 42 }),
      seedTotesys({ url: third!.url, scale: 20_000, seed: 43 }),
    ]);
    const [firstSums, secondSums, thirdSums] = await Promise.all([first!, second!, third!].map((database) => tableChecksums(database.url)));
    const [generated] = await query<{ count: string; min_id: number; after_snapshot: string }>(
      first!.url,
      `SELECT count(*), min(sales_order_id) AS min_id,
              count(*) FILTER (WHERE created_at > '2024-05-16 18:09:10.253') AS after_snapshot
       FROM sales_order WHERE sales_order_id > 8307`,
    );

    expect(reports[0]).toMatchObject({ sales_order: 20_000, purchase_order: 6_666, transaction: 26_666, payment: 26_666 });
    expect(reports[1]).toEqual(reports[0]);
    expect(generated).toEqual({ count: '11693', min_id: 8308, after_snapshot: '11693' });
    expect(secondSums).toEqual(firstSums);
    expect(thirdSums?.sales_order).not.toBe(firstSums?.sales_order);
    expect(thirdSums?.payment).not.toBe(firstSums?.payment);
    expect(thirdSums?.address).toBe(firstSums?.address);
  });

  it('rejects a scale that is not a whole number of orders before touching the database', async () => {
    await expect(seedTotesys({ url: 'postgres://nobody@127.0.0.1:1/none', scale: 2.5 })).rejects.toThrow(/scale must be a whole number/);
  });
});
