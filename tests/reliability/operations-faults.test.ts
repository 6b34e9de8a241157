import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoWatermarkStore } from '../../src/aws/dynamo-watermark-store';
import { redriveDeadLetters } from '../../src/ops/dlq';
import { resolveOperatorStack } from '../../src/ops/stack';
import { sourceTableNames } from '../../src/schemas/source';
import type { ChangeSet } from '../../src/stages/extract';
import { SourceEditor } from './support/source';
import { openReliabilityStack, sql, type ReliabilityStack } from './support/stack';

/**
 * Faults of the surroundings and of operators: the warehouse down until messages give up, a
 * watermark reset, two extracts at once, a late commit, and the source database restarting in
 * the middle of an extract. Each ends with the warehouse checked against the model.
 */
let stack: ReliabilityStack;
let source: SourceEditor;

beforeAll(async () => {
  stack = await openReliabilityStack('operations');
  source = new SourceEditor(stack.totesys.url);
  const initial = await stack.tick();
  expect(initial.ok).toBe(true);
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

const admin = (url: string): string => {
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  return adminUrl.toString();
};

describe('operations faults', () => {
  it('loads everything after the warehouse was down long enough for messages to reach the DLQ, once they are redriven', async () => {
    const name = stack.warehouse.name;
    await source.insertSalesOrder(501);
    await source.update('design', 2, { design_name: 'Outage' });
    await source.update('staff', 4, { email_address: 'outage@terrifictotes.com' });
    await stack.model.observe();
    await sql(admin(stack.warehouse.url), `ALTER DATABASE "${name}" ALLOW_CONNECTIONS false`);
    await sql(admin(stack.warehouse.url), 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [name]);

    let deadWhileDown;
    try {
      const extract = await stack.pipeline.extract();
      expect(extract.extractError).toBeUndefined();
      await stack.pipeline.deliver();
      deadWhileDown = await stack.pipeline.deadLetters();
    } finally {
      await sql(admin(stack.warehouse.url), `ALTER DATABASE "${name}" ALLOW_CONNECTIONS true`);
    }
    // What `totes dlq redrive load` runs (moto lacks the move task, so this is its fallback).
    const operatorStack = await resolveOperatorStack(stack.environment.clients, { stage: stack.environment.outputs.stage, endpoint: stack.environment.aws.endpoint });
    const { moved } = await redriveDeadLetters(stack.environment.clients.sqs, operatorStack.queues.load);
    const after = await stack.pipeline.tick();

    expect(deadWhileDown.length).toBeGreaterThanOrEqual(3);
    expect(deadWhileDown.every((letter) => letter.queue === 'load')).toBe(true);
    expect(deadWhileDown[0]?.reason).toMatch(/not currently accepting connections|warehouse|connect/i);
    expect(moved).toBe(deadWhileDown.length);
    expect(after.deadLetters).toEqual([]);
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  }, 120_000);

  it('re-extracts every table after `watermark reset` and duplicates nothing', async () => {
    const watermarks = new DynamoWatermarkStore(stack.environment.clients.dynamo, stack.environment.config.WATERMARK_TABLE);
    for (const table of sourceTableNames) await watermarks.reset(table, null);

    const summary = await stack.tick();

    const salesOrders = await sql<{ n: string }>(stack.totesys.url, 'SELECT count(*) AS n FROM sales_order');
    expect(summary.ok).toBe(true);
    expect(summary.extract?.tables.every((table) => table.status === 'extracted')).toBe(true);
    expect(summary.extract?.tables.find((table) => table.table === 'sales_order')?.rows).toBe(Number(salesOrders[0]?.n));
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  });

  it('never extracts a version twice when two extract ticks overlap', async () => {
    const inserted = [await source.insertSalesOrder(601), await source.insertSalesOrder(602)];
    await source.update('address', 3, { phone: '0111 111 1111' });
    await stack.model.observe();
    const second = stack.secondPipeline();

    const [one, two] = await Promise.all([stack.pipeline.extract(), second.extract()]);
    await stack.pipeline.deliver();

    const reports = [one.extract, two.extract];
    const salesOrderRows = reports.reduce((sum, report) => sum + (report?.tables.find((table) => table.table === 'sales_order')?.rows ?? 0), 0);
    expect(one.extractError).toBeUndefined();
    expect(two.extractError).toBeUndefined();
    expect(salesOrderRows).toBe(inserted.length);
    expect(await stack.pipeline.deadLetters()).toEqual([]);
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  });

  it('captures a late commit stamped before the watermark but inside the late-commit window', async () => {
    const [newest] = await sql<{ at: string }>(stack.totesys.url, "SELECT to_char(max(last_updated) - interval '30 seconds', 'YYYY-MM-DD HH24:MI:SS.MS') AS at FROM sales_order");
    const lateId = await source.insertSalesOrder(701);
    await source.update('sales_order', lateId, {}, newest?.at);

    const summary = await stack.tick();

    const late = await sql(stack.warehouse.url, 'SELECT units_sold FROM fact_sales_order WHERE sales_order_id = $1', [lateId]);
    expect(summary.ok).toBe(true);
    expect(late).toEqual([{ units_sold: 701 }]);
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  });

  it('fails only the table whose source connection died mid-COPY, and the next tick recovers it', async () => {
    const orderId = await source.insertSalesOrder(801);
    await source.update('payment_type', 1, { payment_type_name: 'SALES_RECEIPT' });
    let killed = 0;
    // The source "restarts" once the sales_order read has delivered its first chunk: every extract
    // backend is terminated.
    stack.faults.extractDeps = (deps) => ({
      ...deps,
      source: {
        withChanges: (table, query, work) =>
          deps.source.withChanges(table, query, (changes) =>
            table !== 'sales_order' || killed > 0
              ? work(changes)
              : work({
                ...changes,
                async *chunks(): ReturnType<ChangeSet['chunks']> {
                  for await (const chunk of changes.chunks()) {
                    if (killed === 0) {
                      killed += (await sql(admin(stack.totesys.url), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'totes-extract'", [stack.totesys.name])).length;
                    }
                    yield chunk;
                  }
                },
              }),
          ),
      },
    });

    let failing;
    try {
      failing = await stack.tick();
    } finally {
      stack.faults.extractDeps = undefined;
    }
    const recovered = await stack.tick();

    expect(killed).toBeGreaterThan(0);
    expect(failing.extractError).toMatch(/sales_order/);
    expect(failing.extract).toBeNull();
    expect(recovered.ok).toBe(true);
    expect(recovered.extract?.tables.find((table) => table.table === 'sales_order')?.status).toBe('extracted');
    expect(await sql(stack.warehouse.url, 'SELECT units_sold FROM fact_sales_order WHERE sales_order_id = $1', [orderId])).toEqual([{ units_sold: 801 }]);
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  });
});
