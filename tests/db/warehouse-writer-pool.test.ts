import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgWarehouse } from '../../src/db/warehouse-writer';
import { dimTransaction } from '../../src/schemas/warehouse';
import { createTestDatabase, type TestDatabase } from '../support/pg';
import { batches, count, createWarehouseSchemas } from '../stages/load/fixtures';

let database: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  database = await createTestDatabase('totes_writer_pool');
  // One connection, and a deadline for getting it far shorter than one load: as in a handler
  // applying a whole SQS batch at once over its small pool.
  pool = new pg.Pool({ connectionString: database.url, max: 1, connectionTimeoutMillis: 100 });
});

afterAll(async () => {
  await pool.end();
  await database.drop();
});

describe('PgWarehouse over a small pool', () => {
  it('queues objects behind the pool instead of failing them on its connection timeout', async () => {
    // prepare: loads that each hold the one connection for longer than the pool's deadline
    // (the connection is already open, so taking a free one is instant)
    const names = await createWarehouseSchemas(pool);
    const warehouse = new PgWarehouse(pool, names);
    const size = 20_000;
    const rows = (from: number) =>
      Array.from({ length: size }, (_, index) => ({ transaction_id: from + index, transaction_type: 'SALE', sales_order_id: from + index, purchase_order_id: null, _source_version: '2024-11-20 15:22:10.531518' }));

    // act: more objects than connections, at once
    const outcomes = await Promise.allSettled([0, 1, 2].map((part) => warehouse.applyDimension(dimTransaction, batches(dimTransaction, rows(1 + part * size)), { key: `dim_transaction/${part}` })));

    // assert
    expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? String(outcome.reason) : outcome.status))).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect(await count(pool, `"${names.schema}"."dim_transaction"`)).toBe(3 * size);
  }, 30_000);
});
