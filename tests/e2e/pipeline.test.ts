import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../src/aws/s3-object-store';
import { openLocalEnvironment, type LocalEnvironment } from '../../src/local/environment';
import { LocalPipeline } from '../../src/local/pipeline';
import { seedTotesys } from '../../src/seed/seed';
import { testAwsSettings, uniqueName } from '../support/aws';
import { createTestDatabase, queryRows as query, type TestDatabase } from '../support/pg';

/**
 * The whole architecture on the local stack: real PostgreSQL databases, moto's S3, SQS,
 * DynamoDB and Secrets Manager, the S3→SQS notifications, the local event-source runtime and
 * the real middy handlers. One stage name per file keeps its resources apart in the shared moto.
 */
let totesys: TestDatabase;
let warehouse: TestDatabase;
let environment: LocalEnvironment;
let pipeline: LocalPipeline;


beforeAll(async () => {
  totesys = await createTestDatabase('totes_e2e_src');
  warehouse = await createTestDatabase('totes_e2e_wh');
  await seedTotesys({ url: totesys.url });
  environment = await openLocalEnvironment({
    env: { totesysDbUrl: totesys.url, warehouseDbUrl: warehouse.url, awsEndpoint: testAwsSettings().endpoint, region: 'eu-west-2', stage: uniqueName('e2e') },
    visibilityTimeoutSeconds: 1,
  });
  pipeline = new LocalPipeline(environment);
}, 120_000);

afterAll(async () => {
  await environment?.close();
  await totesys?.drop();
  await warehouse?.drop();
});

describe('the pipeline end to end', () => {
  it('moves currency through CSV, dim_currency Parquet and into the warehouse, and every other table with it', async () => {
    const summary = await pipeline.tick();

    expect(summary.extractError).toBeUndefined();
    expect(summary.deadLetters).toEqual([]);
    expect(summary.ok).toBe(true);
    const ingestion = new S3ObjectStore(environment.clients.s3, environment.outputs.ingestionBucket);
    const processed = new S3ObjectStore(environment.clients.s3, environment.outputs.processedBucket);
    const [currencyCsv] = await ingestion.list('currency/');
    expect(currencyCsv).toMatch(/^currency\/\d{4}\/\d{2}\/\d{2}\/currency__initial__\d{8}T\d{6}\.\d{6}__[a-z0-9]+__00001\.csv$/);
    expect(Buffer.from(await ingestion.getBytes(currencyCsv ?? '')).toString('utf8').split('\n')[0]).toBe('currency_id,currency_code,created_at,last_updated');
    expect(await processed.list('dim_currency/')).toHaveLength(1);
    expect(await query(warehouse.url, 'SELECT currency_id, currency_code, currency_name FROM dim_currency ORDER BY currency_id')).toEqual([
      { currency_id: 1, currency_code: 'GBP', currency_name: 'Pound Sterling' },
      { currency_id: 2, currency_code: 'USD', currency_name: 'US Dollar' },
      { currency_id: 3, currency_code: 'EUR', currency_name: 'Euro' },
    ]);
    const sourceCounts = await query<{ t: string; n: string }>(
      totesys.url,
      "SELECT 'sales_order' t, count(*) n FROM sales_order UNION ALL SELECT 'purchase_order', count(*) FROM purchase_order UNION ALL SELECT 'payment', count(*) FROM payment UNION ALL SELECT 'staff', count(*) FROM staff",
    );
    const source = Object.fromEntries(sourceCounts.map((row) => [row.t, Number(row.n)]));
    expect(summary.warehouseRows).toMatchObject({
      fact_sales_order: source.sales_order,
      fact_purchase_order: source.purchase_order,
      fact_payment: source.payment,
      dim_staff: source.staff,
      dim_currency: 3,
      dim_location: 30,
      dim_counterparty: 20,
      dim_design: 377,
      dim_payment_type: 4,
    });
  });

  it('carries an update as a new fact version on the next tick, exactly once', async () => {
    await query(totesys.url, "UPDATE sales_order SET units_sold = 7, unit_price = 19.99, last_updated = '2030-01-02 03:04:05.678' WHERE sales_order_id = 2");

    const summary = await pipeline.tick();
    const again = await pipeline.tick();

    expect(summary.ok).toBe(true);
    expect(again.ok).toBe(true);
    expect(again.extract?.tables.every((table) => table.status === 'unchanged')).toBe(true);
    const versions = await query(
      warehouse.url,
      "SELECT units_sold, unit_price::text AS unit_price, last_updated_date::text AS d, last_updated_time::text AS t FROM fact_sales_order WHERE sales_order_id = 2 ORDER BY last_updated_date",
    );
    expect(versions).toEqual([
      { units_sold: 42972, unit_price: '3.94', d: '2022-11-03', t: '14:20:52.186' },
      { units_sold: 7, unit_price: '19.99', d: '2030-01-02', t: '03:04:05.678' },
    ]);
  });

  it('sends an object that can never be transformed to the DLQ, names it, and loads everything else', async () => {
    const badKey = 'currency/2030/01/01/currency__initial__20300101T000000.000000__badinput__00001.csv';
    await environment.clients.s3.send(
      new PutObjectCommand({ Bucket: environment.outputs.ingestionBucket, Key: badKey, Body: 'currency_id,currency_code,created_at,last_updated\nnot-a-number,GBP,2030-01-01 00:00:00,2030-01-01 00:00:00\n' }),
    );

    const summary = await pipeline.tick();

    expect(summary.ok).toBe(false);
    expect(summary.deadLetters).toEqual([{ queue: 'transform', key: badKey, reason: expect.stringMatching(/line 2.*currency_id/) }]);
    expect(summary.warehouseRows.dim_currency).toBe(3);
  });
});
