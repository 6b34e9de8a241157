import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients';
import { dashboardAwsClients } from '../../src/dashboard/aws';
import { gatherAwsHealth } from '../../src/dashboard/pipeline-health';
import { startDashboardServer, type RunningDashboard } from '../../src/dashboard/server';
import { WarehouseReader } from '../../src/dashboard/warehouse-reader';
import { credentialsFromUrl } from '../../src/db/credentials';
import { ensureWarehouseSchema } from '../../src/db/warehouse-ddl';
import { provisionLocalStack, type StackOutputs } from '../../src/local/provision';
import { testAwsSettings, uniqueName } from '../support/aws';
import { createTestDatabase, type TestDatabase } from '../support/pg';

/**
 * The dashboard's JSON API against a small star whose every figure is worked out by hand in the
 * comments below, and its pipeline health against a stack provisioned in moto — and against an
 * endpoint where nothing answers.
 */
let warehouse: TestDatabase;
let reader: WarehouseReader;
let dashboard: RunningDashboard;
let stack: StackOutputs;
const stage = uniqueName('dash');
const awsClients = createAwsClients(testAwsSettings());

async function seedStar(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await ensureWarehouseSchema(pool);
    await pool.query(`
      INSERT INTO dim_date SELECT d, extract(year FROM d), extract(month FROM d), extract(day FROM d), extract(isodow FROM d), to_char(d, 'FMDay'), to_char(d, 'FMMonth'), extract(quarter FROM d)
        FROM generate_series('2024-01-01'::date, '2024-03-31'::date, interval '1 day') AS d;
      INSERT INTO dim_currency VALUES (1, 'GBP', 'Pound Sterling'), (2, 'USD', 'US Dollar');
      INSERT INTO dim_staff VALUES (1, 'Ann', 'Lee', 'Sales', 'Leeds', 'ann@example.com'), (2, 'Bob', 'Ray', 'Retail', 'Paris', 'bob@example.com');
      INSERT INTO dim_location VALUES (1, '1 Road', NULL, NULL, 'Leeds', 'LS1', 'United Kingdom', '0113'),
                                      (2, '2 Rue', NULL, NULL, 'Paris', '75001', 'France', '01'),
                                      (3, '3 Rue', NULL, NULL, 'Lyon', '69001', 'France', '04');
      INSERT INTO dim_design VALUES (1, 'Wooden', '/w', 'w.json'), (2, 'Steel', '/s', 's.json');
      INSERT INTO dim_counterparty VALUES (1, 'Acme Ltd', '1 Road', NULL, NULL, 'Leeds', 'LS1', 'United Kingdom', '0113');
      INSERT INTO fact_sales_order (sales_order_id, created_date, created_time, last_updated_date, last_updated_time, sales_staff_id, counterparty_id,
                                    units_sold, unit_price, currency_id, design_id, agreed_payment_date, agreed_delivery_date, agreed_delivery_location_id) VALUES
        -- order 1: two versions; only the newest (12 units) counts: GBP 30.00 in January
        (1, '2024-01-05', '10:00', '2024-01-05', '10:00', 1, 1, 10, 2.50, 1, 1, '2024-03-01', '2024-03-02', 1),
        (1, '2024-01-05', '10:00', '2024-02-01', '09:30', 1, 1, 12, 2.50, 1, 1, '2024-03-01', '2024-03-02', 1),
        -- order 2: USD 59.97 in January
        (2, '2024-01-20', '11:00', '2024-01-20', '11:00', 2, 1, 3, 19.99, 2, 2, '2024-03-01', '2024-03-02', 2),
        -- orders 3 and 4: GBP 5.05 + 0.70 = 5.75 in February
        (3, '2024-02-10', '12:00', '2024-02-10', '12:00', 2, 1, 5, 1.01, 1, 2, '2024-03-01', '2024-03-02', 3),
        (4, '2024-02-11', '12:00', '2024-02-11', '12:00', 1, 1, 7, 0.10, 1, 1, '2024-03-01', '2024-03-02', 1);
      INSERT INTO totes.load_log (key, table_name, rows_in_file, rows_applied, loaded_at, deliveries) VALUES
        ('a.parquet', 'fact_sales_order', 5, 5, now() - interval '1 hour', 1),
        ('b.parquet', 'fact_sales_order', 3, 2, now() - interval '48 hours', 2),
        ('c.parquet', 'dim_currency', 2, 2, now() - interval '2 hours', 1);
    `);
  } finally {
    await pool.end();
  }
}

async function get(path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(new URL(path, dashboard.url));
  return { status: response.status, body: await response.json() };
}

beforeAll(async () => {
  warehouse = await createTestDatabase('totes_dash');
  await seedStar(warehouse.url);
  stack = await provisionLocalStack(awsClients, { stage, totesysCredentials: credentialsFromUrl(warehouse.url), warehouseCredentials: credentialsFromUrl(warehouse.url) });
  reader = new WarehouseReader({ url: warehouse.url, statementTimeoutMs: 1_000 });
  const clients = dashboardAwsClients(testAwsSettings());
  dashboard = await startDashboardServer({ port: 0, reader, awsHealth: () => gatherAwsHealth({ clients, stage, endpoint: testAwsSettings().endpoint }) });
});

afterAll(async () => {
  await dashboard?.close();
  await reader?.close();
  await warehouse?.drop();
});

describe('the business API', () => {
  it('sums revenue per month and currency over the newest version of each order, exactly', async () => {
    const { status, body } = await get('/api/revenue-by-month');

    expect(status).toBe(200);
    expect(body).toEqual({
      months: [
        { month: '2024-01', currency: 'GBP', revenue: '30.00', orders: 1, units: 12 },
        { month: '2024-01', currency: 'USD', revenue: '59.97', orders: 1, units: 3 },
        { month: '2024-02', currency: 'GBP', revenue: '5.75', orders: 2, units: 12 },
      ],
      totals: [
        { currency: 'GBP', revenue: '35.75', orders: 3, units: 24 },
        { currency: 'USD', revenue: '59.97', orders: 1, units: 3 },
      ],
    });
  });

  it('summarises orders, versions and units', async () => {
    expect((await get('/api/summary')).body).toEqual({ orders: 4, versions: 5, units: 27, currencies: ['GBP', 'USD'] });
  });

  it('ranks designs by units sold', async () => {
    expect((await get('/api/top-designs')).body).toEqual([
      { designId: 1, designName: 'Wooden', units: 19, orders: 2 },
      { designId: 2, designName: 'Steel', units: 8, orders: 2 },
    ]);
  });

  it('groups sales by delivery country and by delivery city', async () => {
    expect((await get('/api/sales-by-location?by=country')).body).toEqual([
      { country: 'United Kingdom', orders: 2, units: 19 },
      { country: 'France', orders: 2, units: 8 },
    ]);
    expect((await get('/api/sales-by-location?by=city')).body).toEqual([
      { country: 'United Kingdom', city: 'Leeds', orders: 2, units: 19 },
      { country: 'France', city: 'Lyon', orders: 1, units: 5 },
      { country: 'France', city: 'Paris', orders: 1, units: 3 },
    ]);
  });

  it('ranks staff by revenue within one currency', async () => {
    expect((await get('/api/top-staff?currency=gbp')).body).toEqual([
      { staffId: 1, name: 'Ann Lee', department: 'Sales', currency: 'GBP', revenue: '30.70', orders: 2 },
      { staffId: 2, name: 'Bob Ray', department: 'Retail', currency: 'GBP', revenue: '5.05', orders: 1 },
    ]);
    expect((await get('/api/top-staff?currency=USD')).body).toEqual([{ staffId: 2, name: 'Bob Ray', department: 'Retail', currency: 'USD', revenue: '59.97', orders: 1 }]);
  });

  it('shows every version of one order, oldest first', async () => {
    const { body } = await get('/api/order-history?id=1');

    expect(body).toMatchObject([
      { salesOrderId: 1, lastUpdated: '2024-01-05 10:00:00', unitsSold: 10, unitPrice: '2.50', currency: 'GBP', design: 'Wooden', staff: 'Ann Lee', counterparty: 'Acme Ltd', deliveryCity: 'Leeds' },
      { salesOrderId: 1, lastUpdated: '2024-02-01 09:30:00', unitsSold: 12, unitPrice: '2.50', currency: 'GBP' },
    ]);
    expect((await get('/api/order-history?id=999')).body).toEqual([]);
  });

  it('rejects bad parameters and anything but GET with a clear message', async () => {
    expect(await get('/api/order-history?id=1;DROP')).toEqual({ status: 400, body: { error: 'id must be a sales order id (a whole number)' } });
    expect(await get('/api/top-staff?currency=POUNDS')).toEqual({ status: 400, body: { error: 'currency must be a three-letter ISO 4217 code, e.g. GBP' } });
    expect(await get('/api/sales-by-location?by=planet')).toEqual({ status: 400, body: { error: 'by must be country or city' } });
    expect((await get('/api/nothing')).status).toBe(404);
    const post = await fetch(new URL('/api/summary', dashboard.url), { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('serves the page and the charting library from this server', async () => {
    const page = await fetch(dashboard.url);
    const chart = await fetch(new URL('/vendor/chart.umd.min.js', dashboard.url));

    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<label for="order-id">Sales order id</label>');
    expect(chart.status).toBe(200);
    expect(await chart.text()).toContain('Chart');
  });
});

describe('the read-only warehouse connection', () => {
  it('cannot write, even when a statement tries', async () => {
    await expect(reader.query("INSERT INTO dim_currency VALUES (9, 'JPY', 'Yen')")).rejects.toThrow(/read-only transaction/);
    // Ending the READ ONLY transaction early still leaves the session's read-only default.
    await expect(reader.query("COMMIT; INSERT INTO dim_currency VALUES (9, 'JPY', 'Yen')")).rejects.toThrow(/read-only transaction/);
    await expect(reader.query("SELECT 1; SET TRANSACTION READ WRITE; INSERT INTO dim_currency VALUES (9, 'JPY', 'Yen')")).rejects.toThrow(/read-write mode must be set before any query/);

    expect(await reader.query('SELECT count(*)::int AS n FROM dim_currency')).toEqual([{ n: 2 }]);
  });

  it('runs with a statement timeout and a read-only session default', async () => {
    const [settings] = await reader.query<{ timeout: string; readOnly: string }>(
      "SELECT current_setting('statement_timeout') AS timeout, current_setting('default_transaction_read_only') AS \"readOnly\"",
    );

    expect(settings).toEqual({ timeout: '1s', readOnly: 'on' });
    await expect(reader.query('SELECT pg_sleep(3)')).rejects.toThrow(/statement timeout/);
  });
});

describe('pipeline health', () => {
  it('reports the load log, queue depths, a stuck DLQ and the failure journal', async () => {
    await awsClients.sqs.send(new SendMessageCommand({ QueueUrl: stack.loadDlqUrl, MessageBody: '{}' }));
    await awsClients.dynamo.send(new PutCommand({
      TableName: stack.failuresTable,
      Item: { key: 'dim_staff/x.parquet', stage: 'load', messageId: 'm-1', receiveCount: 5, error: 'dim_staff 7 not yet loaded', retryable: true, at: '2030-01-01T00:00:00.000Z', expiresAt: 1_900_000_000 },
    }));
    // A failed attempt of an object that a retry then loaded (a.parquet is in the load log).
    await awsClients.dynamo.send(new PutCommand({
      TableName: stack.failuresTable,
      Item: { key: 'a.parquet', stage: 'load', messageId: 'm-2', receiveCount: 1, error: 'dim_design 3 not yet loaded', retryable: true, at: '2029-01-01T00:00:00.000Z', expiresAt: 1_900_000_000 },
    }));

    const { status, body } = await get('/api/health');

    expect(status).toBe(200);
    const health = body as { loads: unknown; aws: { available: boolean; status: { queues: unknown[]; problems: string[] }; recentErrors: unknown[] } };
    expect(health.loads).toEqual({
      available: true,
      recentHours: 24,
      tables: [
        { table: 'dim_currency', objects: 1, rowsApplied: 2, recentObjects: 1, recentRowsApplied: 2, lastLoadedAt: expect.any(String), redelivered: 0 },
        { table: 'fact_sales_order', objects: 2, rowsApplied: 7, recentObjects: 1, recentRowsApplied: 5, lastLoadedAt: expect.any(String), redelivered: 1 },
      ],
    });
    expect(health.aws.available).toBe(true);
    expect(health.aws.status.queues).toContainEqual({ queue: `totes-${stage}-load-dlq`, consumer: 'load', role: 'dlq', visible: 1, inFlight: 0, delayed: 0 });
    expect(health.aws.status.problems).toEqual([expect.stringContaining(`totes-${stage}-load-dlq holds 1`)]);
    expect(health.aws.recentErrors).toEqual([
      { at: '2030-01-01T00:00:00.000Z', stage: 'load', subject: 'dim_staff/x.parquet', error: 'dim_staff 7 not yet loaded', receiveCount: 5, loadedSince: false },
      { at: '2029-01-01T00:00:00.000Z', stage: 'load', subject: 'a.parquet', error: 'dim_design 3 not yet loaded', receiveCount: 1, loadedSince: true },
    ]);
  });

  it('says why when AWS does not answer, and still serves the load log', async () => {
    const unreachable = dashboardAwsClients({ region: 'eu-west-2', endpoint: 'http://127.0.0.1:9' });
    const offline = await startDashboardServer({ port: 0, reader, awsHealth: () => gatherAwsHealth({ clients: unreachable, stage, endpoint: 'http://127.0.0.1:9' }) });
    try {
      const response = await fetch(new URL('/api/health', offline.url));
      const health = (await response.json()) as { loads: { available: boolean }; aws: { available: boolean; reason: string } };

      expect(response.status).toBe(200);
      expect(health.loads.available).toBe(true);
      expect(health.aws).toEqual({ available: false, reason: expect.stringMatching(/queue totes-dash-\w+-transform.*ECONNREFUSED/s) });
    } finally {
      await offline.close();
    }
  });

  it('gives up on an AWS call that hangs, with the reason', async () => {
    const hanging = await gatherAwsHealth({ clients: dashboardAwsClients(testAwsSettings()), stage, timeoutMs: 1, endpoint: testAwsSettings().endpoint });

    expect(hanging).toEqual({ available: false, reason: 'no answer from AWS within 0.001 s' });
  });
});
