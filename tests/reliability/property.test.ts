import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dieAfterPartOfOneBatch } from './support/crashes';
import { mulberry32 } from '../../src/seed/prng';
import { sendAll, shuffled, takeAll } from './support/queues';
import { SourceEditor } from './support/source';
import { openReliabilityStack, type ReliabilityStack } from './support/stack';

/**
 * The property: whatever sequence of source inserts and updates, extract ticks, held-back and
 * duplicated notifications, shuffled delivery and crashed containers, the warehouse ends equal
 * to the model. Runs accumulate on one stack (the model is cumulative too), so each run starts
 * from the state the previous ones left. TOTES_PROPERTY_RUNS raises the number of runs.
 */
const numRuns = Number(process.env.TOTES_PROPERTY_RUNS ?? 5);

type Changed = 'sales_order' | 'staff' | 'department' | 'address' | 'counterparty';

type Step =
  | { readonly kind: 'insert'; readonly units: number }
  | { readonly kind: 'update'; readonly table: Changed; readonly pick: number; readonly value: number }
  | { readonly kind: 'tick'; readonly hold: boolean; readonly duplicate: boolean; readonly shuffle: boolean; readonly crash: 'none' | 'transform' | 'load'; readonly seed: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), units: fc.integer({ min: 1, max: 9999 }) }),
  fc.record({
    kind: fc.constant('update' as const),
    table: fc.constantFrom<Changed>('sales_order', 'staff', 'department', 'address', 'counterparty'),
    pick: fc.nat({ max: 1000 }),
    value: fc.nat({ max: 9999 }),
  }),
  fc.record({
    kind: fc.constant('tick' as const),
    hold: fc.boolean(),
    duplicate: fc.boolean(),
    shuffle: fc.boolean(),
    crash: fc.constantFrom<'none' | 'transform' | 'load'>('none', 'transform', 'load'),
    seed: fc.nat(),
  }),
);

let stack: ReliabilityStack;
let source: SourceEditor;

beforeAll(async () => {
  stack = await openReliabilityStack('property', { scale: 20 });
  source = new SourceEditor(stack.totesys.url);
  expect((await stack.tick()).ok).toBe(true);
}, 180_000);

afterAll(async () => {
  await stack?.close();
});

/** A few ids per table, so updates hit the same rows again and versions pile up. */
async function pickId(table: Changed, pick: number): Promise<number> {
  const ids = (await source.ids(table)).slice(0, 6);
  return ids[pick % ids.length] ?? 1;
}

async function applyUpdate(table: Changed, pick: number, value: number): Promise<void> {
  const id = await pickId(table, pick);
  const change: Record<Changed, () => Promise<Record<string, unknown>>> = {
    sales_order: async () => ({ units_sold: value }),
    staff: async () => ({ first_name: `Prop${value}`, department_id: await pickId('department', value) }),
    department: async () => ({ department_name: `Dept ${value}`, location: value % 3 === 0 ? null : `Floor ${value % 7}` }),
    address: async () => ({ city: `City ${value}`, address_line_2: value % 2 === 0 ? null : '' }),
    counterparty: async () => ({ counterparty_legal_name: `Counterparty ${value}`, legal_address_id: await pickId('address', value) }),
  };
  await source.update(table, id, await change[table]());
}

/** Takes what waits on a queue and sends it back twice and/or in another order. */
async function disturb(queue: 'transform' | 'load', tick: Extract<Step, { kind: 'tick' }>): Promise<void> {
  if (!tick.duplicate && !tick.shuffle) return;
  const { sqs } = stack.environment.clients;
  const url = stack.environment.outputs.queues[queue].url;
  const bodies = await takeAll(sqs, url);
  const doubled = tick.duplicate ? [...bodies, ...bodies] : bodies;
  await sendAll(sqs, url, tick.shuffle ? shuffled(doubled, mulberry32(tick.seed)) : doubled);
}

async function runTick(tick: Extract<Step, { kind: 'tick' }>): Promise<void> {
  await stack.model.observe();
  const extract = await stack.pipeline.extract();
  expect(extract.extractError).toBeUndefined();
  if (tick.hold) return;
  const crash = dieAfterPartOfOneBatch();
  stack.faults.handler = (handler, queue) => (queue === tick.crash ? crash.wrap(handler) : handler);
  try {
    await disturb('transform', tick);
    await stack.pipeline.deliver(['transform']);
    await disturb('load', tick);
    await stack.pipeline.deliver();
  } finally {
    stack.faults.handler = undefined;
  }
  if (tick.crash !== 'none' && crash.fired()) stack.tally.fault();
  if (tick.duplicate) stack.tally.fault();
  if (tick.shuffle) stack.tally.fault();
}

describe('the warehouse against the model, for random histories', () => {
  it('matches after any sequence of changes, ticks, duplicates, shuffles and crashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 7 }), async (steps) => {
        for (const next of steps) {
          if (next.kind === 'insert') await source.insertSalesOrder(next.units);
          else if (next.kind === 'update') await applyUpdate(next.table, next.pick, next.value);
          else await runTick(next);
        }
        // The operator's view after the storm: one plain tick delivers whatever was held back.
        await runTick({ kind: 'tick', hold: false, duplicate: false, shuffle: false, crash: 'none', seed: 0 });

        expect(await stack.pipeline.deadLetters()).toEqual([]);
        await stack.expectWarehouseMatchesModel();
      }),
      { numRuns, endOnFailure: true },
    );
  }, 600_000);
});
