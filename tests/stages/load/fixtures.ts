import type pg from 'pg';
import { ensureWarehouseSchema, type WarehouseSchemaNames } from '../../../src/db/warehouse-ddl';
import { encodeParquet, parquetColumnsFor } from '../../../src/parquet/codec';
import { buildProcessedKey } from '../../../src/schemas/keys';
import type { Row } from '../../../src/schemas/rows';
import type { SourceTableName } from '../../../src/schemas/source';
import { type WarehouseTableDef, type WarehouseTableName, warehouseTable } from '../../../src/schemas/warehouse';
import { type RowBatches, rowBatchesOf } from '../../../src/stages/load';
import type { MemoryObjectStore } from '../../support/memory-object-store';

/** A warehouse of its own inside the test database: two schemas no other test uses. */
export async function createWarehouseSchemas(pool: pg.Pool): Promise<WarehouseSchemaNames> {
  const suffix = Math.random().toString(36).slice(2, 10);
  const names = { schema: `wh_${suffix}`, bookkeepingSchema: `wh_${suffix}_totes` };
  await ensureWarehouseSchema(pool, names);
  return names;
}

const sourceOf: Record<string, SourceTableName> = {
  dim_date: 'sales_order',
  dim_staff: 'staff',
  dim_location: 'address',
  dim_currency: 'currency',
  dim_design: 'design',
  dim_counterparty: 'counterparty',
  dim_transaction: 'transaction',
  dim_payment_type: 'payment_type',
  fact_sales_order: 'sales_order',
  fact_purchase_order: 'purchase_order',
  fact_payment: 'payment',
};

let part = 0;

/** The processed key a transform would write for this table, unique per call. */
export function processedKey(table: WarehouseTableName): string {
  part += 1;
  const source = sourceOf[table];
  if (!source) throw new Error(`no source table for ${table}`);
  return buildProcessedKey({
    warehouseTable: table,
    source: {
      table: source,
      runDay: '2024-11-21',
      window: { from: null, to: '2024-11-21 09:38:15.221234' },
      runId: 'testrun1',
      part,
    },
  });
}

/** Rows as the load stage hands them to the warehouse: one batch, in the table's file columns. */
export function batches(table: WarehouseTableDef, rows: readonly Row[]): RowBatches {
  return rowBatchesOf(parquetColumnsFor(table), rows);
}

/** Writes rows as the Parquet object the transform would produce; returns its key. */
export async function putProcessed(store: MemoryObjectStore, table: WarehouseTableName, rows: Row[], options: { rowGroupSize?: number } = {}): Promise<string> {
  const key = processedKey(table);
  await store.putNew(key, encodeParquet(parquetColumnsFor(warehouseTable(table)), rows, options));
  return key;
}

export function staffRow(id: number, version: string, overrides: Partial<Row> = {}): Row {
  return {
    staff_id: id, first_name: `First${id}`, last_name: `Last${id}`, department_name: 'Sales', location: 'Manchester',
    email_address: `staff${id}@terrifictotes.com`, _source_version: version, ...overrides,
  };
}

export function counterpartyRow(id: number, version: string, overrides: Partial<Row> = {}): Row {
  return {
    counterparty_id: id, counterparty_legal_name: `Counterparty ${id}`, counterparty_legal_address_line_1: `${id} High Street`,
    counterparty_legal_address_line_2: null, counterparty_legal_district: 'Avon', counterparty_legal_city: 'Bristol',
    counterparty_legal_postal_code: 'BS1 1AA', counterparty_legal_country: 'United Kingdom',
    counterparty_legal_phone_number: '0117 496 0000', _source_version: version, ...overrides,
  };
}

export function currencyRow(id: number, code: string, name: string, version: string): Row {
  return { currency_id: id, currency_code: code, currency_name: name, _source_version: version };
}

export function designRow(id: number, version: string, overrides: Partial<Row> = {}): Row {
  return { design_id: id, design_name: `Design ${id}`, file_location: '/usr/share', file_name: `design-${id}.json`, _source_version: version, ...overrides };
}

export function locationRow(id: number, version: string, overrides: Partial<Row> = {}): Row {
  return {
    location_id: id, address_line_1: `${id} Station Road`, address_line_2: null, district: null, city: 'Leeds',
    postal_code: 'LS1 4AP', country: 'United Kingdom', phone: '0113 496 0000', _source_version: version, ...overrides,
  };
}

export function salesOrderRow(id: number, lastUpdated: string, overrides: Partial<Row> = {}): Row {
  const [date = '', time = ''] = lastUpdated.split(' ');
  return {
    sales_order_id: id, created_date: '2024-11-20', created_time: '15:22:10.531518', last_updated_date: date,
    last_updated_time: time, sales_staff_id: 1, counterparty_id: 1, units_sold: 100, unit_price: '19.99',
    currency_id: 1, design_id: 1, agreed_payment_date: '2024-11-25', agreed_delivery_date: '2024-11-28',
    agreed_delivery_location_id: 1, ...overrides,
  };
}

/** Every star table's rows (surrogate ids left out: they depend on arrival order) in a stable order. */
export async function starSnapshot(pool: pg.Pool, schema: string): Promise<Record<string, string[]>> {
  const snapshot: Record<string, string[]> = {};
  const tables = ['dim_date', 'dim_staff', 'dim_location', 'dim_currency', 'dim_design', 'dim_counterparty', 'dim_transaction',
    'dim_payment_type', 'fact_sales_order', 'fact_purchase_order', 'fact_payment'] as const;
  for (const table of tables) {
    const recordId = warehouseTable(table).columns.find((column) => column.type.kind === 'identity')?.name ?? '';
    const result = await pool.query<{ row: string }>(
      `SELECT (to_jsonb(t) - $1::text)::text AS row FROM "${schema}"."${table}" t`,
      [recordId],
    );
    snapshot[table] = result.rows.map((row) => row.row).sort();
  }
  return snapshot;
}

export async function count(pool: pg.Pool, qualifiedTable: string): Promise<number> {
  const result = await pool.query<{ count: string }>(`SELECT count(*) FROM ${qualifiedTable}`);
  return Number(result.rows[0]?.count);
}
