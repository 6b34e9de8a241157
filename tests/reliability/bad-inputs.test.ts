import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../src/local/pipeline';
import { buildIngestionKey, buildProcessedKey } from '../../src/schemas/keys';
import type { SourceTableName } from '../../src/schemas/source';
import { s3NotificationBody } from '../../src/ops/replay';
import { sendAll } from './support/queues';
import { SourceEditor } from './support/source';
import { openReliabilityStack, sql, type ReliabilityStack } from './support/stack';

/**
 * Bad inputs, all at once in one tick, as they would arrive in production. Awkward but valid
 * source data (a 10 MB text, emoji and right-to-left text, SQL-looking strings, NULL next to the
 * empty string) goes in through the totesys database and must load exactly; malformed files are
 * written straight into the buckets and must each end in their DLQ with an error that names the
 * object and where in it the problem is — while everything else loads and matches the model.
 */
let stack: ReliabilityStack;
let deadLetters: DeadLetter[];

const ingestionKey = (table: SourceTableName, runId: string): string =>
  buildIngestionKey({ table, runDay: '2030-01-01', window: { from: null, to: '2030-01-01 00:00:00.000000' }, runId, part: 1 });

const currencyHeader = 'currency_id,currency_code,created_at,last_updated';
const salesHeader = 'sales_order_id,created_at,last_updated,design_id,staff_id,counterparty_id,units_sold,unit_price,currency_id,agreed_delivery_date,agreed_payment_date,agreed_delivery_location_id';
const at = '2030-01-01 00:00:00.000';
const salesRow = (id: number, price = '12.50', deliveryDate = '2030-01-05'): string => `${id},${at},${at},1,1,1,5,${price},1,${deliveryDate},2030-01-06,1`;

/** Malformed ingestion objects: key → CSV text and what the error must say. */
const badCsv = {
  malformed: { key: ingestionKey('currency', 'malformed'), body: `${currencyHeader}\n9,"GBP,${at},${at}\n`, reason: /line 2|quote/i },
  truncated: { key: ingestionKey('sales_order', 'truncated'), body: `${salesHeader}\n${salesRow(9001)}\n9002,${at},${at},1,1`, reason: /line 3/ },
  extraColumn: { key: ingestionKey('currency', 'extracolumn'), body: `${currencyHeader},currency_symbol\n9,GBP,${at},${at},£\n`, reason: /currency_symbol/ },
  missingColumn: { key: ingestionKey('currency', 'missingcolumn'), body: 'currency_id,currency_code,last_updated\n9,GBP,2030-01-01 00:00:00\n', reason: /created_at/ },
  nullInNotNull: { key: ingestionKey('currency', 'nullcode'), body: `${currencyHeader}\n9,,${at},${at}\n`, reason: /line 2.*currency_code|currency_code.*line 2/ },
  invalidDate: { key: ingestionKey('sales_order', 'baddate'), body: `${salesHeader}\n${salesRow(9003, '12.50', '2030-02-30')}\n`, reason: /line 2.*agreed_delivery_date|agreed_delivery_date.*line 2/ },
  nonNumericPrice: { key: ingestionKey('sales_order', 'badprice'), body: `${salesHeader}\n${salesRow(9004, 'twelve')}\n`, reason: /line 2.*unit_price|unit_price.*line 2/ },
} as const;

const deletedKey = ingestionKey('currency', 'deletedfirst');
const strayKey = 'misc/stray-export.csv';
const notParquetKey = buildProcessedKey({
  warehouseTable: 'dim_currency',
  source: { table: 'currency', runDay: '2030-01-01', window: { from: null, to: '2030-01-01 00:00:00.000000' }, runId: 'notparquet', part: 1 },
});

const tenMegabytes = 10 * 1024 * 1024;
const hugeDesignName = Array.from({ length: tenMegabytes / 16 }, (_, index) => `design${String(index).padStart(9, '0')}|`).join('');
const emojiName = '🦄 Zoë 👩🏽‍💻';
const rightToLeft = 'مرحبا بالعالم שלום עולם';
const sqlInjection = "'); DROP TABLE dim_staff; --";

beforeAll(async () => {
  stack = await openReliabilityStack('badinputs');
  const initial = await stack.tick();
  expect(initial.ok).toBe(true);
  const source = new SourceEditor(stack.totesys.url);
  const { s3, sqs } = stack.environment.clients;
  const { ingestionBucket, processedBucket, queues } = stack.environment.outputs;

  await source.update('design', 1, { design_name: hugeDesignName });
  await source.update('staff', 1, { first_name: emojiName, last_name: rightToLeft });
  await source.update('address', 1, { address_line_1: `${rightToLeft} 🏠`, address_line_2: '', district: null });
  await source.update('address', 2, { address_line_2: null, district: '' });
  await source.update('department', 1, { location: '' });
  await source.update('department', 2, { location: null });
  await source.update('counterparty', 1, { counterparty_legal_name: sqlInjection });
  await source.update('design', 2, { file_name: 'Robert\'); DROP TABLE "dim_design";--.json', file_location: '"; DELETE FROM fact_sales_order; --' });
  await source.insertSalesOrder(9);

  for (const { key, body } of Object.values(badCsv)) await s3.send(new PutObjectCommand({ Bucket: ingestionBucket, Key: key, Body: body }));
  await s3.send(new PutObjectCommand({ Bucket: ingestionBucket, Key: deletedKey, Body: `${currencyHeader}\n9,JPY,${at},${at}\n` }));
  await s3.send(new DeleteObjectCommand({ Bucket: ingestionBucket, Key: deletedKey }));
  await s3.send(new PutObjectCommand({ Bucket: ingestionBucket, Key: strayKey, Body: `${currencyHeader}\n9,JPY,${at},${at}\n` }));
  await sendAll(sqs, queues.transform.url, [s3NotificationBody({ region: stack.environment.outputs.region, bucket: ingestionBucket, key: strayKey, size: 0, at: new Date() })]);
  await s3.send(new PutObjectCommand({ Bucket: processedBucket, Key: notParquetKey, Body: 'PAR1 this is not a parquet file PAR1' }));

  const summary = await stack.tick();
  deadLetters = summary.deadLetters;
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

function deadLetterFor(key: string): DeadLetter | undefined {
  return deadLetters.find((letter) => letter.key === key);
}

describe('bad inputs', () => {
  it.each(Object.entries(badCsv))('sends the %s CSV to the transform DLQ with a reason naming the object and the place', (_name, bad) => {
    const letter = deadLetterFor(bad.key);

    expect(letter?.queue).toBe('transform');
    expect(letter?.reason).toContain(bad.key);
    expect(letter?.reason).toMatch(bad.reason);
    stack.tally.badInput();
  });

  it('sends a notification for an object deleted before it was processed to the DLQ, naming it as missing', () => {
    const letter = deadLetterFor(deletedKey);

    expect(letter?.queue).toBe('transform');
    expect(letter?.reason).toContain(deletedKey);
    expect(letter?.reason).toMatch(/not found|no such key|does not exist|missing/i);
    stack.tally.badInput();
  });

  it('consumes a notification for a key outside every ingestion prefix without loading it, and logs the key as skipped', () => {
    // The transform stage skips such keys by design (tests/stages/transform): the bucket's
    // notification filter never sends one, so only a stray message can, and it is not retried.
    const skipped = stack.logLines.filter((line) => line.includes(strayKey));

    expect(deadLetterFor(strayKey)).toBeUndefined();
    expect(skipped.some((line) => /skipped: not an ingestion object/.test(line))).toBe(true);
    stack.tally.badInput();
  });

  it('sends a processed object that is not Parquet to the load DLQ, naming it', () => {
    const letter = deadLetterFor(notParquetKey);

    expect(letter?.queue).toBe('load');
    expect(letter?.reason).toContain(notParquetKey);
    expect(letter?.reason).toMatch(/parquet/i);
    stack.tally.badInput();
  });

  it('dead-letters nothing but the bad objects', () => {
    const badKeys = [...Object.values(badCsv).map((bad) => bad.key), deletedKey, notParquetKey];

    expect(deadLetters.map((letter) => letter.key).sort()).toEqual(badKeys.sort());
  });

  it('loads a 10 MB text value exactly', async () => {
    const [design] = await sql<{ length: number; same: boolean }>(stack.warehouse.url, 'SELECT length(design_name) AS length, design_name = $1 AS same FROM dim_design WHERE design_id = 1', [hugeDesignName]);

    expect(design).toEqual({ length: tenMegabytes, same: true });
    stack.tally.badInput();
  });

  it('loads emoji and right-to-left text exactly', async () => {
    const [staff] = await sql(stack.warehouse.url, 'SELECT first_name, last_name FROM dim_staff WHERE staff_id = 1');
    const [location] = await sql(stack.warehouse.url, 'SELECT address_line_1 FROM dim_location WHERE location_id = 1');

    expect(staff).toEqual({ first_name: emojiName, last_name: rightToLeft });
    expect(location).toEqual({ address_line_1: `${rightToLeft} 🏠` });
    stack.tally.badInput();
  });

  it('loads SQL-looking strings as data and drops nothing', async () => {
    const [counterparty] = await sql(stack.warehouse.url, 'SELECT counterparty_legal_name FROM dim_counterparty WHERE counterparty_id = 1');
    const [design] = await sql(stack.warehouse.url, 'SELECT file_name, file_location FROM dim_design WHERE design_id = 2');
    const [staffCount] = await sql<{ n: string }>(stack.warehouse.url, 'SELECT count(*) AS n FROM dim_staff');

    expect(counterparty).toEqual({ counterparty_legal_name: sqlInjection });
    expect(design).toEqual({ file_name: 'Robert\'); DROP TABLE "dim_design";--.json', file_location: '"; DELETE FROM fact_sales_order; --' });
    expect(Number(staffCount?.n)).toBeGreaterThan(0);
    stack.tally.badInput();
  });

  it('keeps NULL and the empty string apart', async () => {
    const locations = await sql(stack.warehouse.url, 'SELECT location_id, address_line_2, district FROM dim_location WHERE location_id IN (1, 2) ORDER BY 1');

    expect(locations).toEqual([
      { location_id: 1, address_line_2: '', district: null },
      { location_id: 2, address_line_2: null, district: '' },
    ]);
    stack.tally.badInput();
  });

  it('loads everything else: the warehouse equals the model', async () => {
    await stack.expectWarehouseMatchesModel();
  });
});
