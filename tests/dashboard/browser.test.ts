import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type pg from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardAwsClients } from '../../src/dashboard/aws';
import { gatherAwsHealth } from '../../src/dashboard/pipeline-health';
import { startDashboardServer, type RunningDashboard } from '../../src/dashboard/server';
import { WarehouseReader } from '../../src/dashboard/warehouse-reader';
import { openLocalEnvironment, type LocalEnvironment } from '../../src/local/environment';
import { LocalPipeline } from '../../src/local/pipeline';
import { seedTotesys } from '../../src/seed/seed';
import { testAwsSettings, uniqueName } from '../support/aws';
import { createTestDatabase, queryRows, type TestDatabase } from '../support/pg';

/**
 * The page in a real browser on the demo's data (the real totesys snapshot, one pipeline tick):
 * what the tables and charts show must equal what SQL computes independently, and every control
 * must be reachable from the keyboard. Debian's Chromium is required; .ci/run installs it.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = 'test-artifacts/dashboard.png';

let totesys: TestDatabase;
let warehouse: TestDatabase;
let environment: LocalEnvironment;
let reader: WarehouseReader;
let dashboard: RunningDashboard;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

function query<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  return queryRows<T>(warehouse.url, sql, values);
}

/** The newest version of each order, found with a window function (the server uses DISTINCT ON). */
const newestVersions = `(SELECT * FROM (SELECT f.*, row_number() OVER (PARTITION BY sales_order_id ORDER BY last_updated_date DESC, last_updated_time DESC) AS version_rank
                           FROM fact_sales_order f) ranked WHERE version_rank = 1)`;

const plain = (text: string | null) => (text ?? '').replace(/,/g, '').trim();

async function cellTexts(selector: string): Promise<string[][]> {
  const rows = page.locator(selector);
  const result: string[][] = [];
  for (let index = 0; index < (await rows.count()); index += 1) result.push((await rows.nth(index).locator('th, td').allTextContents()).map((text) => text.trim()));
  return result;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium; .ci/run does this) to run the dashboard browser test`);
  }
  totesys = await createTestDatabase('totes_dash_src');
  warehouse = await createTestDatabase('totes_dash_wh');
  await seedTotesys({ url: totesys.url });
  const stage = uniqueName('dashb');
  environment = await openLocalEnvironment({
    env: { totesysDbUrl: totesys.url, warehouseDbUrl: warehouse.url, awsEndpoint: testAwsSettings().endpoint, region: 'eu-west-2', stage },
    visibilityTimeoutSeconds: 1,
  });
  const tick = await new LocalPipeline(environment).tick();
  if (!tick.ok) throw new Error(`the demo tick did not finish clean: ${JSON.stringify(tick.deadLetters)} ${tick.extractError ?? ''}`);

  reader = new WarehouseReader({ url: warehouse.url });
  const clients = dashboardAwsClients(testAwsSettings());
  dashboard = await startDashboardServer({ port: 0, reader, awsHealth: () => gatherAwsHealth({ clients, stage, endpoint: testAwsSettings().endpoint }) });

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(dashboard.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await reader?.close();
  await environment?.close();
  await totesys?.drop();
  await warehouse?.drop();
});

describe('the dashboard in Chromium', () => {
  it('shows revenue totals per currency equal to the SQL totals, in the table and in the chart', async () => {
    const expected = await query<{ currency: string; revenue: string; units: string }>(
      `SELECT c.currency_code AS currency, sum(s.units_sold * s.unit_price)::text AS revenue, sum(s.units_sold)::text AS units
         FROM ${newestVersions} s JOIN dim_currency c ON c.currency_id = s.currency_id GROUP BY c.currency_code ORDER BY c.currency_code`,
    );

    const shown = await cellTexts('#revenue-totals-table tbody tr');
    const footer = await cellTexts('#revenue-by-month-table tfoot tr');
    const chartSums = (await page.evaluate(
      `(() => { const chart = Chart.getChart('revenue-chart'); return chart.data.datasets.map((d) => [d.label, d.data.reduce((a, b) => a + b, 0)]); })()`,
    )) as [string, number][];

    expect(expected.length).toBeGreaterThan(1);
    expect(shown.map(([currency, , units, revenue]) => [currency, plain(units ?? ''), plain(revenue ?? '')])).toEqual(expected.map((row) => [row.currency, row.units, row.revenue]));
    expect(footer.map((cells) => [cells[1], plain(cells[4] ?? '')])).toEqual(expected.map((row) => [row.currency, row.revenue]));
    expect(chartSums.map(([currency]) => currency)).toEqual(expected.map((row) => row.currency));
    chartSums.forEach(([, sum], index) => expect(sum).toBeCloseTo(Number(expected[index]?.revenue), 1));
    expect(await page.locator('#revenue-chart').getAttribute('aria-label')).toContain(`${expected[0]?.currency} `);
  });

  it('lists the top 10 designs and the sales by country with the SQL figures', async () => {
    const designs = await query<{ design_name: string; units: string }>(
      `SELECT d.design_name, sum(s.units_sold)::text AS units FROM ${newestVersions} s JOIN dim_design d ON d.design_id = s.design_id
        GROUP BY s.design_id, d.design_name ORDER BY sum(s.units_sold) DESC, s.design_id LIMIT 10`,
    );
    const [totals] = await query<{ units: string; orders: string }>(`SELECT sum(units_sold)::text AS units, count(*)::text AS orders FROM ${newestVersions} s`);

    const designRows = await cellTexts('#designs-data tbody tr');
    const countryFooter = await cellTexts('#country-data tfoot tr');
    const cityFooter = await cellTexts('#city-data tfoot tr');

    expect(designRows.map((cells) => [cells[0], plain(cells[3] ?? '')])).toEqual(designs.map((row) => [row.design_name, row.units]));
    expect(countryFooter.map((cells) => cells.map(plain))).toEqual([['All countries', totals?.orders, totals?.units]]);
    expect(cityFooter.map((cells) => cells.map(plain))).toEqual([['All cities', '', totals?.orders, totals?.units]]);
  });

  it('shows pipeline health: the loads per table and a clean stack', async () => {
    const [loaded] = await query<{ rows: string }>("SELECT sum(rows_applied)::text AS rows FROM totes.load_log WHERE table_name = 'fact_sales_order'");

    const loadRows = await cellTexts('#loads-table tbody tr');

    expect(loadRows.find((cells) => cells[0] === 'fact_sales_order')?.[2]).toBe(Number(loaded?.rows).toLocaleString('en-GB'));
    await expect.poll(() => page.locator('#aws-status').textContent()).toMatch(/all clear/);
    expect(await cellTexts('#queues-table tbody tr')).toHaveLength(4);
    expect((await cellTexts('#watermarks-table tbody tr')).length).toBe(11);
  });

  it('reaches every control with the keyboard and shows an order history picked that way', async () => {
    const [versions] = await query<{ n: number }>('SELECT count(*)::int AS n FROM fact_sales_order WHERE sales_order_id = 2');
    await page.locator('body').focus();

    const focused: string[] = [];
    for (let step = 0; step < 12; step += 1) {
      await page.keyboard.press('Tab');
      focused.push(String(await page.evaluate(`document.activeElement.id || document.activeElement.className || document.activeElement.tagName`)));
      if (focused.at(-1) === 'order-id') break;
    }
    await page.keyboard.type('2');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#order-history-table');

    expect(focused[0]).toBe('skip-link');
    expect(focused).toContain('refresh');
    expect(focused).toContain('staff-currency');
    expect(focused.at(-1)).toBe('order-id');
    expect(await page.locator('#order-history-table caption').textContent()).toBe(`Sales order 2: ${versions?.n} version${versions?.n === 1 ? '' : 's'}`);
    expect(await page.locator('#order-history-table tbody tr').count()).toBe(versions?.n);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.id')).toBe('order-submit');
  });

  it('renders without script errors, and leaves a screenshot to look at', async () => {
    await mkdir('test-artifacts', { recursive: true });
    await page.locator('#revenue-details summary').click();

    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    expect(pageErrors).toEqual([]);
    expect(existsSync(SCREENSHOT)).toBe(true);
  });
});
