import { createParquetEncoder, parquetColumnsFor } from '../../parquet/codec';
import { currencyName } from '../../reference/iso4217';
import type { TableDef } from '../../schemas/columns';
import { sourceTable, type SourceTableName } from '../../schemas/source';
import type { CellValue, Row } from '../../schemas/rows';
import {
  SOURCE_VERSION_COLUMN,
  dimCounterparty, dimCurrency, dimDesign, dimLocation, dimPaymentType, dimStaff, dimTransaction,
  type WarehouseTableDef,
} from '../../schemas/warehouse';
import { rowRecords, type RecordSink } from './csv';
import { factBuilder, isFactSource } from './facts';
import { LatestRows } from './latest-rows';
import type { SourceStateStore, StateTableName } from './state';

/** One warehouse table's Parquet file for one ingestion object, encoded but not yet written. */
export interface TableOutput {
  readonly table: WarehouseTableDef;
  readonly rows: number;
  readonly bytes: Uint8Array;
}

/**
 * Turns the validated rows of one ingestion object into warehouse files. `records` takes the
 * cells inside the CSV parse (synchronous, no per-row await); `finish` runs once the whole object
 * was valid.
 */
export interface WarehouseBuilder {
  readonly records: RecordSink;
  finish(state: SourceStateStore): Promise<TableOutput[]>;
}

export interface BuildOptions {
  readonly key: string;
  readonly rowGroupSize: number;
}

/** A row in the dimension's column order, ending with its source version. */
type DimensionRow = Row & { [SOURCE_VERSION_COLUMN]: string };

const UNKNOWN_LOCATION = 'Unknown';

const str = (row: Row, column: string): string => row[column] as string;
const num = (row: Row, column: string): number => row[column] as number;
const nullableStr = (row: Row, column: string): string | null => row[column] as string | null;

function encodeTable(table: WarehouseTableDef, rows: readonly Row[], rowGroupSize: number): TableOutput[] {
  if (rows.length === 0) return [];
  // Row by row into the encoder's columns: only one row group is held in columnar form, not a
  // second copy of every row (a 100,000-row dim_transaction object is held whole as rows).
  const encoder = createParquetEncoder(parquetColumnsFor(table), { rowGroupSize });
  for (const row of rows) encoder.push(row);
  return [{ table, rows: rows.length, bytes: encoder.finish() }];
}

// ---------------------------------------------------------------------------------------------
// Dimensions: small tables, held whole. Within one object an id keeps its newest version only,
// so a file never carries two rows for one dimension key.

/** Adds the version to a row the caller has just built (no copy: a dimension object may hold 100,000 rows). */
function versioned(row: Row, version: string): DimensionRow {
  row[SOURCE_VERSION_COLUMN] = version;
  return row as DimensionRow;
}

const dimLocationRow = (address: Row): DimensionRow =>
  versioned({
    location_id: num(address, 'address_id'),
    address_line_1: str(address, 'address_line_1'),
    address_line_2: nullableStr(address, 'address_line_2'),
    district: nullableStr(address, 'district'),
    city: str(address, 'city'),
    postal_code: str(address, 'postal_code'),
    country: str(address, 'country'),
    phone: str(address, 'phone'),
  }, str(address, 'last_updated'));

const dimCounterpartyRow = (counterparty: Row, address: Row): DimensionRow =>
  versioned({
    counterparty_id: num(counterparty, 'counterparty_id'),
    counterparty_legal_name: str(counterparty, 'counterparty_legal_name'),
    counterparty_legal_address_line_1: str(address, 'address_line_1'),
    counterparty_legal_address_line_2: nullableStr(address, 'address_line_2'),
    counterparty_legal_district: nullableStr(address, 'district'),
    counterparty_legal_city: str(address, 'city'),
    counterparty_legal_postal_code: str(address, 'postal_code'),
    counterparty_legal_country: str(address, 'country'),
    counterparty_legal_phone_number: str(address, 'phone'),
  }, `${str(counterparty, 'last_updated')}|${str(address, 'last_updated')}`);

const dimStaffRow = (staff: Row, department: Row): DimensionRow =>
  versioned({
    staff_id: num(staff, 'staff_id'),
    first_name: str(staff, 'first_name'),
    last_name: str(staff, 'last_name'),
    department_name: str(department, 'department_name'),
    location: nullableStr(department, 'location') ?? UNKNOWN_LOCATION,
    email_address: str(staff, 'email_address'),
  }, `${str(staff, 'last_updated')}|${str(department, 'last_updated')}`);

const dimCurrencyRow = (currency: Row): DimensionRow =>
  versioned({
    currency_id: num(currency, 'currency_id'),
    currency_code: str(currency, 'currency_code'),
    currency_name: currencyName(str(currency, 'currency_code')),
  }, str(currency, 'last_updated'));

const dimDesignRow = (design: Row): DimensionRow =>
  versioned({
    design_id: num(design, 'design_id'),
    design_name: str(design, 'design_name'),
    file_location: str(design, 'file_location'),
    file_name: str(design, 'file_name'),
  }, str(design, 'last_updated'));

const dimPaymentTypeRow = (paymentType: Row): DimensionRow =>
  versioned({
    payment_type_id: num(paymentType, 'payment_type_id'),
    payment_type_name: str(paymentType, 'payment_type_name'),
  }, str(paymentType, 'last_updated'));

const dimTransactionRow = (transaction: Row): DimensionRow =>
  versioned({
    transaction_id: num(transaction, 'transaction_id'),
    transaction_type: str(transaction, 'transaction_type'),
    sales_order_id: transaction.sales_order_id as number | null,
    purchase_order_id: transaction.purchase_order_id as number | null,
  }, str(transaction, 'last_updated'));

function byId(rows: Iterable<Row>, idColumn: string): Map<CellValue, Row> {
  return new Map([...rows].map((row) => [row[idColumn] ?? null, row]));
}

/** Sorted by the dimension key, so reprocessing an input encodes the same file. */
function sortedByKey(rows: DimensionRow[], keyColumn: string): DimensionRow[] {
  return rows.sort((a, b) => num(a, keyColumn) - num(b, keyColumn));
}

type DimensionFinish = (rows: Row[], state: SourceStateStore) => Promise<Array<readonly [WarehouseTableDef, Row[]]>>;

/**
 * Dimensions built from their own source table alone. Each row becomes its dimension row as it
 * is read, and only that is held (see latest-rows.ts), not the source rows as well until the end.
 */
const standaloneDimensions: Readonly<Record<string, readonly [WarehouseTableDef, (row: Row) => DimensionRow]>> = {
  currency: [dimCurrency, dimCurrencyRow],
  design: [dimDesign, dimDesignRow],
  payment_type: [dimPaymentType, dimPaymentTypeRow],
  transaction: [dimTransaction, dimTransactionRow],
};

/**
 * A dimension fed by two source tables. The input's own rows go to state first, then the partner
 * table is read: see state.ts for why this order makes concurrent transforms safe.
 */
function joined(options: {
  own: StateTableName;
  ownId: string;
  partner: StateTableName;
  build: (rows: Row[], partnerRows: Row[]) => DimensionRow[];
  also?: (rows: Row[]) => Array<readonly [WarehouseTableDef, Row[]]>;
  table: WarehouseTableDef;
}): DimensionFinish {
  return async (rows, state) => {
    await state.putLatest(options.own, options.ownId, rows);
    const partnerRows = await state.readAll(options.partner);
    return [...(options.also?.(rows) ?? []), [options.table, options.build(rows, partnerRows)]];
  };
}

const joinedDimensions: Readonly<Record<string, DimensionFinish>> = {
  address: joined({
    own: 'address', ownId: 'address_id', partner: 'counterparty', table: dimCounterparty,
    also: (addresses) => [[dimLocation, addresses.map(dimLocationRow)]],
    // Every counterparty whose legal address changed is rebuilt with the new address.
    build: (addresses, counterparties) => {
      const addressById = byId(addresses, 'address_id');
      return counterparties.flatMap((counterparty) => {
        const address = addressById.get(counterparty.legal_address_id ?? null);
        return address ? [dimCounterpartyRow(counterparty, address)] : [];
      });
    },
  }),
  counterparty: joined({
    own: 'counterparty', ownId: 'counterparty_id', partner: 'address', table: dimCounterparty,
    build: (counterparties, addresses) => {
      const addressById = byId(addresses, 'address_id');
      return counterparties.flatMap((counterparty) => {
        const address = addressById.get(counterparty.legal_address_id ?? null);
        return address ? [dimCounterpartyRow(counterparty, address)] : [];
      });
    },
  }),
  department: joined({
    own: 'department', ownId: 'department_id', partner: 'staff', table: dimStaff,
    // Every staff member of a changed department is rebuilt (a move to Liverpool reaches them all).
    build: (departments, staff) => {
      const departmentById = byId(departments, 'department_id');
      return staff.flatMap((member) => {
        const department = departmentById.get(member.department_id ?? null);
        return department ? [dimStaffRow(member, department)] : [];
      });
    },
  }),
  staff: joined({
    own: 'staff', ownId: 'staff_id', partner: 'department', table: dimStaff,
    build: (staff, departments) => {
      const departmentById = byId(departments, 'department_id');
      return staff.flatMap((member) => {
        const department = departmentById.get(member.department_id ?? null);
        return department ? [dimStaffRow(member, department)] : [];
      });
    },
  }),
};

/** Each row becomes its dimension row as it is read; the newest version per id is kept when encoding. */
function standaloneBuilder(
  [table, toRow]: readonly [WarehouseTableDef, (row: Row) => DimensionRow], source: TableDef, options: BuildOptions,
): WarehouseBuilder {
  const latest = new LatestRows(parquetColumnsFor(table), table.primaryKey[0] ?? '');
  return {
    records: rowRecords(source, (row) => latest.add(toRow(row))),
    finish: async () => {
      if (latest.size === 0) return [];
      const encoder = createParquetEncoder(parquetColumnsFor(table), { rowGroupSize: options.rowGroupSize });
      const rows = latest.encode(encoder);
      return [{ table, rows, bytes: encoder.finish() }];
    },
  };
}

function joinedBuilder(finishDimensions: DimensionFinish, source: TableDef, idColumn: string, options: BuildOptions): WarehouseBuilder {
  const latestById = new Map<number, Row>();
  return {
    records: rowRecords(source, (row) => {
      const id = num(row, idColumn);
      const held = latestById.get(id);
      if (!held || str(held, 'last_updated') <= str(row, 'last_updated')) latestById.set(id, row);
    }),
    finish: async (state) => {
      if (latestById.size === 0) return [];
      const tables = await finishDimensions([...latestById.values()], state);
      return tables.flatMap(([table, rows]) =>
        encodeTable(table, sortedByKey(rows as DimensionRow[], table.primaryKey[0] ?? ''), options.rowGroupSize),
      );
    },
  };
}

/** The builder for one source table: which warehouse tables it feeds and how. */
export function warehouseBuilderFor(source: SourceTableName, idColumn: string, options: BuildOptions): WarehouseBuilder {
  if (isFactSource(source)) return factBuilder(source, options);
  const standalone = standaloneDimensions[source];
  if (standalone) return standaloneBuilder(standalone, sourceTable(source), options);
  const finishDimensions = joinedDimensions[source];
  if (!finishDimensions) throw new Error(`no warehouse table is built from source table ${source}`);
  return joinedBuilder(finishDimensions, sourceTable(source), idColumn, options);
}
