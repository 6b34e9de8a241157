import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dieAfterPartOfOneBatch } from './support/crashes';
import { mulberry32 } from '../../src/seed/prng';
import { sendAll, shuffled, takeAll } from './support/queues';
import { SourceEditor } from './support/source';
import { openReliabilityStack, sql, type ReliabilityStack } from './support/stack';

/**
 * Faults of delivery: the same notification twice, functions dying half-way through a batch or
 * half-way through writing their outputs, and notifications arriving in any order. Each ends
 * with the warehouse checked against the model: every fact version once, every dimension latest.
 */
let stack: ReliabilityStack;
let source: SourceEditor;

beforeAll(async () => {
  stack = await openReliabilityStack('delivery');
  source = new SourceEditor(stack.totesys.url);
  const initial = await stack.tick();
  expect(initial.ok).toBe(true);
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

describe('delivery faults', () => {
  it('absorbs every notification delivered twice, at both queues, and again long after', async () => {
    const queues = stack.environment.outputs.queues;
    const sqs = stack.environment.clients.sqs;
    await source.insertSalesOrder(101);
    await source.insertSalesOrder(102);
    await source.update('staff', 1, { first_name: 'Twice' });
    await source.update('address', 1, { city: 'Echo' });
    await stack.model.observe();

    const extract = await stack.pipeline.extract();
    const transformBodies = await takeAll(sqs, queues.transform.url);
    await sendAll(sqs, queues.transform.url, shuffled([...transformBodies, ...transformBodies], mulberry32(1)));
    await stack.pipeline.deliver(['transform']);
    const loadBodies = await takeAll(sqs, queues.load.url);
    await sendAll(sqs, queues.load.url, shuffled([...loadBodies, ...loadBodies], mulberry32(2)));
    await stack.pipeline.deliver();
    await sendAll(sqs, queues.transform.url, transformBodies);
    await sendAll(sqs, queues.load.url, loadBodies);
    await stack.pipeline.deliver();

    const written = extract.extract?.tables.reduce((sum, table) => sum + table.objects.length, 0);
    expect(extract.extractError).toBeUndefined();
    expect(transformBodies).toHaveLength(written ?? -1);
    expect(loadBodies.length).toBeGreaterThanOrEqual(transformBodies.length);
    expect(await stack.pipeline.deadLetters()).toEqual([]);
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  });

  it('recovers from a transform that dies after part of a batch, and one that dies between its outputs', async () => {
    const processedBucket = stack.environment.outputs.processedBucket;
    const batchCrash = dieAfterPartOfOneBatch();
    let outputPuts = 0;
    let outputCrashes = 0;
    stack.faults.handler = (handler, queue) => (queue === 'transform' ? batchCrash.wrap(handler) : handler);
    stack.faults.s3 = (command, fn) => {
      if (fn !== 'transform' || command.name !== 'PutObjectCommand' || command.input.Bucket !== processedBucket) return;
      outputPuts += 1;
      // The second output of a run dies: its first output exists, its others do not yet.
      if (outputPuts === 2) {
        outputCrashes += 1;
        throw new Error('injected: the transform died between two outputs');
      }
    };
    await source.insertSalesOrder(201);
    await source.update('department', 1, { department_name: 'Crash Test' });
    await source.update('counterparty', 1, { counterparty_legal_name: 'Halfway Ltd' });
    await source.update('currency', 1, { currency_code: 'GBP' });

    let summary;
    try {
      summary = await stack.tick();
    } finally {
      stack.faults.handler = undefined;
      stack.faults.s3 = undefined;
    }

    expect(batchCrash.fired()).toBe(true);
    expect(outputCrashes).toBe(1);
    expect(outputPuts).toBeGreaterThan(2);
    expect(summary.deadLetters).toEqual([]);
    stack.tally.fault();
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  });

  it('recovers from a load that dies after part of a batch, and one whose transaction dies mid-insert', async () => {
    const batchCrash = dieAfterPartOfOneBatch();
    stack.faults.handler = (handler, queue) => (queue === 'load' ? batchCrash.wrap(handler) : handler);
    // A row trigger that fails the second fact row inserted: the load's transaction is half
    // written when it dies. A sequence is not rolled back with it, so the crash happens once.
    await sql(stack.warehouse.url, `CREATE SCHEMA reliability_fault;
      CREATE SEQUENCE reliability_fault.fact_rows;
      CREATE FUNCTION reliability_fault.crash() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('reliability_fault.fact_rows') = 2 THEN RAISE EXCEPTION 'injected: the load died inserting into %', TG_TABLE_NAME; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER reliability_crash BEFORE INSERT ON fact_sales_order FOR EACH ROW EXECUTE FUNCTION reliability_fault.crash();
      -- ALWAYS: the load inserts facts with session_replication_role = replica (its foreign keys
      -- checked set-based), where ordinary triggers do not fire.
      ALTER TABLE fact_sales_order ENABLE ALWAYS TRIGGER reliability_crash;`);
    for (const units of [301, 302, 303]) await source.insertSalesOrder(units);
    await source.update('design', 1, { design_name: 'Crashproof' });
    await source.update('staff', 2, { last_name: 'Reloaded' });

    let deadLetters;
    let factRowsTried: { n: string }[];
    try {
      // Every load notification is queued before the load consumes any, so its first batch holds
      // several objects and the crash can land part-way through one, whatever the timing.
      await stack.model.observe();
      await stack.pipeline.extract();
      await stack.pipeline.deliver(['transform']);
      await stack.pipeline.deliver(['load']);
      deadLetters = await stack.pipeline.deadLetters();
    } finally {
      stack.faults.handler = undefined;
      factRowsTried = await sql<{ n: string }>(stack.warehouse.url, 'SELECT last_value AS n FROM reliability_fault.fact_rows');
      await sql(stack.warehouse.url, 'DROP SCHEMA reliability_fault CASCADE');
    }

    expect(batchCrash.fired()).toBe(true);
    // More rows were tried than the three new versions: the crashed transaction was redone.
    expect(Number(factRowsTried[0]?.n)).toBeGreaterThan(3);
    expect(deadLetters).toEqual([]);
    stack.tally.fault();
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  });

  it('ends at the latest versions whatever order three ticks of notifications arrive in', async () => {
    const queues = stack.environment.outputs.queues;
    const sqs = stack.environment.clients.sqs;
    const orderId = await source.insertSalesOrder(401);
    // Three extracts pile up undelivered, each with a new version of the same rows.
    for (const round of [1, 2, 3]) {
      await source.update('sales_order', orderId, { units_sold: 400 + round });
      await source.update('staff', 3, { first_name: `Round${round}` });
      await source.update('department', 2, { location: round === 2 ? null : `Floor ${round}` });
      await source.update('address', 2, { address_line_2: round === 3 ? '' : `Flat ${round}` });
      await source.update('counterparty', 2, { legal_address_id: round === 2 ? 3 : 2 });
      await stack.model.observe();
      const extract = await stack.pipeline.extract();
      expect(extract.extractError).toBeUndefined();
    }

    for (const [index, queue] of (['transform', 'load'] as const).entries()) {
      const bodies = await takeAll(sqs, queues[queue].url);
      await sendAll(sqs, queues[queue].url, shuffled(bodies, mulberry32(40 + index)).reverse());
      await stack.pipeline.deliver(queue === 'transform' ? ['transform'] : ['transform', 'load']);
    }

    expect(await stack.pipeline.deadLetters()).toEqual([]);
    const versions = await sql(stack.warehouse.url, 'SELECT units_sold FROM fact_sales_order WHERE sales_order_id = $1 ORDER BY units_sold', [orderId]);
    expect(versions).toEqual([{ units_sold: 401 }, { units_sold: 402 }, { units_sold: 403 }]);
    stack.tally.fault();
    await stack.expectWarehouseMatchesModel();
  });
});
