import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients';
import { DynamoWatermarkStore } from '../../src/aws/dynamo-watermark-store';
import { WatermarkConflictError } from '../../src/stages/extract';
import { testAwsSettings, uniqueName } from '../support/aws';
import { createWatermarkTable } from '../stages/extract/fixtures';

let store: DynamoWatermarkStore;
const now = new Date('2024-11-20T16:30:00.000Z');
const lease = (owner: string, at = now) => ({ owner, now: at, leaseSeconds: 60 });

beforeEach(async () => {
  const table = uniqueName('watermarks');
  await createWatermarkTable(table);
  store = new DynamoWatermarkStore(createAwsClients(testAwsSettings()).dynamo, table);
});

describe('DynamoWatermarkStore', () => {
  it('gives a lease to one owner at a time until it is released or expires', async () => {
    // act
    const first = await store.acquireLease('address', lease('runa'));
    const second = await store.acquireLease('address', lease('runb'));
    const otherTable = await store.acquireLease('currency', lease('runb'));
    const afterExpiry = await store.acquireLease('address', lease('runc', new Date(now.getTime() + 61_000)));
    await store.releaseLease('address', 'runa'); // not the holder any more: no effect
    const whileHeld = await store.acquireLease('address', lease('rund', new Date(now.getTime() + 62_000)));

    // assert
    expect(first).toMatchObject({ table: 'address', watermark: null, recent: [], leaseOwner: 'runa', leaseUntil: '2024-11-20T16:31:00.000Z' });
    expect(second).toBeNull();
    expect(otherTable).not.toBeNull();
    expect(afterExpiry?.leaseOwner).toBe('runc');
    expect(whileHeld).toBeNull();
  });

  it('advances only for the lease holder and the expected watermark, and never backwards', async () => {
    // prepare
    await store.acquireLease('address', lease('runa'));
    const recent = [{ id: 7, lastUpdated: '2024-11-20 16:25:45.036123' }];

    // act
    await store.advance('address', { owner: 'runa', expected: null, watermark: '2024-11-20 16:25:45.036123', recent, now });
    const stale = await store.advance('address', { owner: 'runa', expected: null, watermark: '2024-11-20 16:26:00.000000', recent: [], now }).catch((error: unknown) => error);
    await store.acquireLease('address', lease('runb'));
    const wrongOwner = await store
      .advance('address', { owner: 'runa', expected: '2024-11-20 16:25:45.036123', watermark: '2024-11-20 16:27:00.000000', recent: [], now })
      .catch((error: unknown) => error);
    const backwards = await store
      .advance('address', { owner: 'runb', expected: '2024-11-20 16:25:45.036123', watermark: '2024-11-20 16:00:00.000000', recent: [], now })
      .catch((error: unknown) => error);

    // assert
    expect(stale).toBeInstanceOf(WatermarkConflictError);
    expect(wrongOwner).toBeInstanceOf(WatermarkConflictError);
    expect(backwards).toBeInstanceOf(WatermarkConflictError);
    expect((backwards as Error).message).toMatch(/backwards/);
    const [state] = await store.list();
    expect(state).toMatchObject({ table: 'address', watermark: '2024-11-20 16:25:45.036123', recent, leaseOwner: 'runb' });
  });

  it('lists tables, resets a watermark, and keeps the last run apart', async () => {
    // prepare
    for (const [table, watermark] of [['currency', '2024-01-01 00:00:00'], ['address', '2024-02-01 00:00:00.5']] as const) {
      await store.acquireLease(table, lease('runa'));
      await store.advance(table, { owner: 'runa', expected: null, watermark, recent: [{ id: 1, lastUpdated: '2024-01-01 00:00:00.000000' }], now });
    }
    const run = { runId: 'runa', startedAt: now.toISOString(), finishedAt: now.toISOString(), ok: true, tables: [{ table: 'address', status: 'extracted' as const, rows: 1, objects: 1, from: null, to: '2024-02-01 00:00:00.500000' }] };
    await store.recordLastRun(run);

    // act
    await store.reset('address', '2023-12-31 23:59:59.999999');
    await store.reset('currency', null);

    // assert
    expect((await store.list()).map(({ table, watermark, recent }) => ({ table, watermark, recent }))).toEqual([
      { table: 'address', watermark: '2023-12-31 23:59:59.999999', recent: [] },
      { table: 'currency', watermark: null, recent: [] },
    ]);
    expect(await store.lastRun()).toEqual(run);
  });

  it('reports no last run before the first one', async () => {
    // act / assert
    expect(await store.lastRun()).toBeNull();
  });

  it('names the DynamoDB table when it does not exist', async () => {
    // prepare
    const missing = new DynamoWatermarkStore(createAwsClients(testAwsSettings()).dynamo, uniqueName('missing'));

    // act / assert
    await expect(missing.acquireLease('address', lease('runa'))).rejects.toThrow(/cannot take the extract lease of address \(DynamoDB table missing-/);
  });
});
