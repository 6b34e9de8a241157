import { type ColumnDef, type TableDef, boolean, date, identity, int, money, nullableInt, nullableText, text, time } from './columns';

/**
 * The star schema of ../shared/spec/warehouse.md: exactly these 11 tables, columns in this
 * order. Anything the pipeline needs for its own bookkeeping lives in the `totes` schema.
 */
const dim = (table: string, column: string) => ({ table, column });
const toDate = dim('dim_date', 'date_id');
const toStaff = dim('dim_staff', 'staff_id');
const toCounterparty = dim('dim_counterparty', 'counterparty_id');
const toCurrency = dim('dim_currency', 'currency_id');
const toLocation = dim('dim_location', 'location_id');

/** created_at and last_updated split into date and time parts, keeping sub-second precision. */
const auditColumns: ColumnDef[] = [
  date('created_date', toDate), time('created_time'),
  date('last_updated_date', toDate), time('last_updated_time'),
];

export interface DimensionDef extends TableDef {
  readonly kind: 'dimension';
}

export interface FactDef extends TableDef {
  readonly kind: 'fact';
  /** The source id; with last_updated it identifies one observed version of a source row. */
  readonly sourceId: string;
  /** Columns that make a fact version unique, so a redelivered version is absorbed. */
  readonly versionKey: readonly string[];
}

export type WarehouseTableDef = DimensionDef | FactDef;

const fact = (name: string, recordId: string, sourceId: string, columns: ColumnDef[]): FactDef => ({
  kind: 'fact',
  name,
  primaryKey: [recordId],
  sourceId,
  versionKey: [sourceId, 'last_updated_date', 'last_updated_time'],
  columns: [identity(recordId), int(sourceId), ...columns],
});

export const dimDate: DimensionDef = {
  kind: 'dimension',
  name: 'dim_date',
  primaryKey: ['date_id'],
  columns: [
    date('date_id'), int('year'), int('month'), int('day'), int('day_of_week'),
    text('day_name'), text('month_name'), int('quarter'),
  ],
};

export const dimStaff: DimensionDef = {
  kind: 'dimension',
  name: 'dim_staff',
  primaryKey: ['staff_id'],
  columns: [
    int('staff_id'), text('first_name'), text('last_name'), text('department_name'), text('location'),
    text('email_address'),
  ],
};

export const dimLocation: DimensionDef = {
  kind: 'dimension',
  name: 'dim_location',
  primaryKey: ['location_id'],
  columns: [
    int('location_id'), text('address_line_1'), nullableText('address_line_2'), nullableText('district'),
    text('city'), text('postal_code'), text('country'), text('phone'),
  ],
};

export const dimCurrency: DimensionDef = {
  kind: 'dimension',
  name: 'dim_currency',
  primaryKey: ['currency_id'],
  columns: [int('currency_id'), text('currency_code'), text('currency_name')],
};

export const dimDesign: DimensionDef = {
  kind: 'dimension',
  name: 'dim_design',
  primaryKey: ['design_id'],
  columns: [int('design_id'), text('design_name'), text('file_location'), text('file_name')],
};

export const dimCounterparty: DimensionDef = {
  kind: 'dimension',
  name: 'dim_counterparty',
  primaryKey: ['counterparty_id'],
  columns: [
    int('counterparty_id'), text('counterparty_legal_name'),
    text('counterparty_legal_address_line_1'), nullableText('counterparty_legal_address_line_2'),
    nullableText('counterparty_legal_district'), text('counterparty_legal_city'),
    text('counterparty_legal_postal_code'), text('counterparty_legal_country'),
    text('counterparty_legal_phone_number'),
  ],
};

export const dimTransaction: DimensionDef = {
  kind: 'dimension',
  name: 'dim_transaction',
  primaryKey: ['transaction_id'],
  columns: [int('transaction_id'), text('transaction_type'), nullableInt('sales_order_id'), nullableInt('purchase_order_id')],
};

export const dimPaymentType: DimensionDef = {
  kind: 'dimension',
  name: 'dim_payment_type',
  primaryKey: ['payment_type_id'],
  columns: [int('payment_type_id'), text('payment_type_name')],
};

export const factSalesOrder = fact('fact_sales_order', 'sales_record_id', 'sales_order_id', [
  ...auditColumns,
  int('sales_staff_id', toStaff), int('counterparty_id', toCounterparty), int('units_sold'),
  money('unit_price', 10), int('currency_id', toCurrency), int('design_id', dim('dim_design', 'design_id')),
  date('agreed_payment_date', toDate), date('agreed_delivery_date', toDate),
  int('agreed_delivery_location_id', toLocation),
]);

export const factPurchaseOrder = fact('fact_purchase_order', 'purchase_record_id', 'purchase_order_id', [
  ...auditColumns,
  int('staff_id', toStaff), int('counterparty_id', toCounterparty), text('item_code'), int('item_quantity'),
  money('item_unit_price'), int('currency_id', toCurrency),
  date('agreed_delivery_date', toDate), date('agreed_payment_date', toDate),
  int('agreed_delivery_location_id', toLocation),
]);

export const factPayment = fact('fact_payment', 'payment_record_id', 'payment_id', [
  ...auditColumns,
  int('transaction_id', dim('dim_transaction', 'transaction_id')), int('counterparty_id', toCounterparty),
  money('payment_amount'), int('currency_id', toCurrency),
  int('payment_type_id', dim('dim_payment_type', 'payment_type_id')), boolean('paid'),
  date('payment_date', toDate),
]);

/** Dimensions first, so creating tables in this order satisfies every foreign key. */
export const warehouseTables = [
  dimDate, dimStaff, dimLocation, dimCurrency, dimDesign, dimCounterparty, dimTransaction, dimPaymentType,
  factSalesOrder, factPurchaseOrder, factPayment,
] as const satisfies readonly WarehouseTableDef[];

export type WarehouseTableName = (typeof warehouseTables)[number]['name'];

export const warehouseTableNames: readonly WarehouseTableName[] = warehouseTables.map((table) => table.name);

const warehouseTablesByName = new Map<string, WarehouseTableDef>(warehouseTables.map((table) => [table.name, table]));

export function isWarehouseTableName(name: string): name is WarehouseTableName {
  return warehouseTablesByName.has(name);
}

export function warehouseTable(name: WarehouseTableName): WarehouseTableDef {
  const table = warehouseTablesByName.get(name);
  if (!table) throw new Error(`unknown warehouse table ${name}`);
  return table;
}

/** Whether a column refers to dim_date: one of a fact's date columns, whose dates dim_date must hold. */
export function refersToDimDate(column: ColumnDef): boolean {
  return column.references?.table === dimDate.name;
}

/** The one column of a table's primary key; a table keyed by several columns is refused. */
export function singleKeyColumn(table: WarehouseTableDef): ColumnDef {
  const [key, ...rest] = table.primaryKey;
  const column = table.columns.find((candidate) => candidate.name === key);
  if (!column || rest.length > 0) throw new Error(`${table.name} must have a single-column primary key`);
  return column;
}

/** The columns a Parquet file carries for a table: everything but the generated surrogate key. */
export function fileColumns(table: TableDef): ColumnDef[] {
  return table.columns.filter((column) => column.type.kind !== 'identity');
}

/**
 * Dimension files carry one bookkeeping column beyond the star schema: the source version the
 * row was built from (see docs/contracts.md). The load compares it to keep the newest version
 * and stores it in the `totes` schema, never in the dimension itself.
 */
export const SOURCE_VERSION_COLUMN = '_source_version';

/**
 * Whether a table keeps only the newest version of each row, arbitrated by the source version:
 * every dimension but dim_date, whose rows are derived from the date alone and never change.
 */
export function isVersionedDimension(table: WarehouseTableDef): table is DimensionDef {
  return table.kind === 'dimension' && table.name !== dimDate.name;
}

export const versionedDimensions: readonly DimensionDef[] = warehouseTables.filter(isVersionedDimension);
