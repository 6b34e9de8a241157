import { type TableDef, boolean, dateText, int, money, nullableInt, nullableText, text, timestamp } from './columns';

/**
 * The totesys OLTP tables (../shared/spec/totesys-source.md), in an order where every table
 * comes after the tables it references, which is also the order seeding loads them.
 */
const ref = (table: string, column = `${table}_id`) => ({ table, column });

export const address: TableDef = {
  name: 'address',
  primaryKey: ['address_id'],
  columns: [
    int('address_id'), text('address_line_1'), nullableText('address_line_2'), nullableText('district'),
    text('city'), text('postal_code'), text('country'), text('phone'),
    timestamp('created_at'), timestamp('last_updated'),
  ],
};

export const counterparty: TableDef = {
  name: 'counterparty',
  primaryKey: ['counterparty_id'],
  columns: [
    int('counterparty_id'), text('counterparty_legal_name'), int('legal_address_id', ref('address')),
    nullableText('commercial_contact'), nullableText('delivery_contact'),
    timestamp('created_at'), timestamp('last_updated'),
  ],
};

export const currency: TableDef = {
  name: 'currency',
  primaryKey: ['currency_id'],
  columns: [int('currency_id'), text('currency_code', 3), timestamp('created_at'), timestamp('last_updated')],
};

export const department: TableDef = {
  name: 'department',
  primaryKey: ['department_id'],
  columns: [
    int('department_id'), text('department_name'), nullableText('location'), nullableText('manager'),
    timestamp('created_at'), timestamp('last_updated'),
  ],
};

export const design: TableDef = {
  name: 'design',
  primaryKey: ['design_id'],
  columns: [
    int('design_id'), timestamp('created_at'), text('design_name'), text('file_location'), text('file_name'),
    timestamp('last_updated'),
  ],
};

export const staff: TableDef = {
  name: 'staff',
  primaryKey: ['staff_id'],
  columns: [
    int('staff_id'), text('first_name'), text('last_name'), int('department_id', ref('department')),
    text('email_address'), timestamp('created_at'), timestamp('last_updated'),
  ],
};

export const salesOrder: TableDef = {
  name: 'sales_order',
  primaryKey: ['sales_order_id'],
  columns: [
    int('sales_order_id'), timestamp('created_at'), timestamp('last_updated'),
    int('design_id', ref('design')), int('staff_id', ref('staff')), int('counterparty_id', ref('counterparty')),
    int('units_sold'), money('unit_price'), int('currency_id', ref('currency')),
    dateText('agreed_delivery_date'), dateText('agreed_payment_date'),
    int('agreed_delivery_location_id', ref('address')),
  ],
};

export const purchaseOrder: TableDef = {
  name: 'purchase_order',
  primaryKey: ['purchase_order_id'],
  columns: [
    int('purchase_order_id'), timestamp('created_at'), timestamp('last_updated'),
    int('staff_id', ref('staff')), int('counterparty_id', ref('counterparty')), text('item_code'),
    int('item_quantity'), money('item_unit_price'), int('currency_id', ref('currency')),
    dateText('agreed_delivery_date'), dateText('agreed_payment_date'),
    int('agreed_delivery_location_id', ref('address')),
  ],
};

export const paymentType: TableDef = {
  name: 'payment_type',
  primaryKey: ['payment_type_id'],
  columns: [int('payment_type_id'), text('payment_type_name'), timestamp('created_at'), timestamp('last_updated')],
};

export const transaction: TableDef = {
  name: 'transaction',
  primaryKey: ['transaction_id'],
  columns: [
    int('transaction_id'), text('transaction_type'),
    { ...nullableInt('sales_order_id'), references: ref('sales_order') },
    { ...nullableInt('purchase_order_id'), references: ref('purchase_order') },
    timestamp('created_at'), timestamp('last_updated'),
  ],
};

export const payment: TableDef = {
  name: 'payment',
  primaryKey: ['payment_id'],
  columns: [
    int('payment_id'), timestamp('created_at'), timestamp('last_updated'),
    int('transaction_id', ref('transaction')), int('counterparty_id', ref('counterparty')),
    money('payment_amount'), int('currency_id', ref('currency')), int('payment_type_id', ref('payment_type')),
    boolean('paid'), dateText('payment_date'), int('company_ac_number'), int('counterparty_ac_number'),
  ],
};

/** The 11 business tables, in dependency order. `_prisma_migrations` is deliberately absent. */
export const sourceTables = [
  address, counterparty, currency, department, design, staff,
  salesOrder, purchaseOrder, paymentType, transaction, payment,
] as const satisfies readonly TableDef[];

export type SourceTableName = (typeof sourceTables)[number]['name'];

export const sourceTableNames: readonly SourceTableName[] = sourceTables.map((table) => table.name);

const sourceTablesByName = new Map<string, TableDef>(sourceTables.map((table) => [table.name, table]));

export function isSourceTableName(name: string): name is SourceTableName {
  return sourceTablesByName.has(name);
}

export function sourceTable(name: SourceTableName): TableDef {
  const table = sourceTablesByName.get(name);
  if (!table) throw new Error(`unknown source table ${name}`);
  return table;
}

/** Every source table is keyed by a single integer id and carries a `last_updated` version. */
export function sourceIdColumn(table: TableDef): string {
  const [id] = table.primaryKey;
  if (!id) throw new Error(`${table.name} has no primary key`);
  return id;
}
