import { InvalidInputError } from '../../errors';
import { createParquetEncoder, daysToDate, parquetColumnsFor, type PhysicalValue } from '../../parquet/codec';
import type { ColumnDef, TableDef } from '../../schemas/columns';
import { payment, purchaseOrder, salesOrder } from '../../schemas/source';
import { dimDate, factPayment, factPurchaseOrder, factSalesOrder, type FactDef, refersToDimDate } from '../../schemas/warehouse';
import { dimDateRow } from '../shared/dim-date';
import type { BuildOptions, TableOutput, WarehouseBuilder } from './build';
import type { RecordSink } from './csv';
import {
  CellRuleError, checkUnscaledPrecision, parseBooleanAt, parseCellAt, parseDateDaysAt, parseInt32At, parseTextAt,
  parseTimestampPartsAt, parseUnscaledDecimalAt, type CellFields, type TimestampParts,
} from './values';

/**
 * Facts: every version observed becomes a row. Each cell is parsed once, straight to the physical
 * Parquet value of the fact column it feeds (a timestamp to the days of its date and the
 * microseconds of its time, money to its unscaled integer), and each row goes into the encoder's
 * columns as it is read: no row object, no normalised text parsed a second time. The dates a fact
 * refers to feed dim_date.
 */

/** Where a fact column's value comes from: a source column, or the date or the time of a source timestamp. */
type FactSource = string | { readonly dateOf: string } | { readonly timeOf: string };

interface FactMapping {
  readonly fact: FactDef;
  readonly source: TableDef;
  /** Every file column of the fact, by name. */
  readonly columns: Readonly<Record<string, FactSource>>;
}

const auditColumns = {
  created_date: { dateOf: 'created_at' },
  created_time: { timeOf: 'created_at' },
  last_updated_date: { dateOf: 'last_updated' },
  last_updated_time: { timeOf: 'last_updated' },
} as const;

const salesOrderMapping: FactMapping = {
  fact: factSalesOrder,
  source: salesOrder,
  columns: {
    sales_order_id: 'sales_order_id',
    ...auditColumns,
    sales_staff_id: 'staff_id',
    counterparty_id: 'counterparty_id',
    units_sold: 'units_sold',
    unit_price: 'unit_price',
    currency_id: 'currency_id',
    design_id: 'design_id',
    agreed_payment_date: 'agreed_payment_date',
    agreed_delivery_date: 'agreed_delivery_date',
    agreed_delivery_location_id: 'agreed_delivery_location_id',
  },
};

const purchaseOrderMapping: FactMapping = {
  fact: factPurchaseOrder,
  source: purchaseOrder,
  columns: {
    purchase_order_id: 'purchase_order_id',
    ...auditColumns,
    staff_id: 'staff_id',
    counterparty_id: 'counterparty_id',
    item_code: 'item_code',
    item_quantity: 'item_quantity',
    item_unit_price: 'item_unit_price',
    currency_id: 'currency_id',
    agreed_delivery_date: 'agreed_delivery_date',
    agreed_payment_date: 'agreed_payment_date',
    agreed_delivery_location_id: 'agreed_delivery_location_id',
  },
};

/** The account numbers are deliberately dropped (but still validated): the warehouse has no use for them. */
const paymentMapping: FactMapping = {
  fact: factPayment,
  source: payment,
  columns: {
    payment_id: 'payment_id',
    ...auditColumns,
    transaction_id: 'transaction_id',
    counterparty_id: 'counterparty_id',
    payment_amount: 'payment_amount',
    currency_id: 'currency_id',
    payment_type_id: 'payment_type_id',
    paid: 'paid',
    payment_date: 'payment_date',
  },
};

/** Which source column, and which of its values, fills each fact column. */
interface CompiledMapping {
  readonly columns: readonly ColumnDef[];
  /** Per fact column: the index of its source column. */
  readonly sourceIndex: readonly number[];
  /** Per fact column: true when it takes the time of a source timestamp, false for its main value. */
  readonly isTime: readonly boolean[];
  /** Fact columns holding dates that must exist in dim_date. */
  readonly dateColumns: readonly number[];
  /**
   * The source money has no precision but the warehouse column may (numeric(10,2)): a value that
   * cannot be stored fails here, naming its line, rather than at load.
   */
  readonly boundedDecimals: ReadonlyArray<{ readonly column: number; readonly scale: number; readonly precision: number }>;
}

/** What a source column of each kind becomes in a fact column fed from it directly. */
const directKinds: Readonly<Record<string, string>> = { int: 'int', decimal: 'decimal', dateText: 'date', text: 'text', boolean: 'boolean' };

/** Resolves a mapping once, and refuses one that does not fit its tables, so a typo fails every test. */
function compile({ fact, source, columns: sources }: FactMapping): CompiledMapping {
  const columns = parquetColumnsFor(fact);
  const sourceIndex: number[] = [];
  const isTime: boolean[] = [];
  const mismatch = (column: ColumnDef, why: string) => new Error(`${fact.name}.${column.name} cannot come from ${source.name}: ${why}`);
  for (const column of columns) {
    const from = sources[column.name];
    if (from === undefined) throw mismatch(column, 'no source given');
    const name = typeof from === 'string' ? from : 'dateOf' in from ? from.dateOf : from.timeOf;
    const index = source.columns.findIndex((candidate) => candidate.name === name);
    const sourceColumn = source.columns[index];
    if (!sourceColumn) throw mismatch(column, `no column ${name}`);
    const kind = typeof from === 'string' ? directKinds[sourceColumn.type.kind] : sourceColumn.type.kind === 'timestamp' ? ('dateOf' in from ? 'date' : 'time') : undefined;
    if (kind !== column.type.kind) throw mismatch(column, `${sourceColumn.type.kind} does not become ${column.type.kind}`);
    if (sourceColumn.nullable && !column.nullable) throw mismatch(column, `${name} may be NULL`);
    if (column.type.kind === 'decimal' && sourceColumn.type.kind === 'decimal' && column.type.scale !== sourceColumn.type.scale) {
      throw mismatch(column, 'the scales differ');
    }
    sourceIndex.push(index);
    isTime.push(kind === 'time');
  }
  const unmapped = Object.keys(sources).find((name) => !columns.some((column) => column.name === name));
  if (unmapped !== undefined) throw new Error(`${fact.name} has no column ${unmapped}`);
  const dateColumns = columns.flatMap((column, index) => (refersToDimDate(column) ? [index] : []));
  const boundedDecimals = columns.flatMap((column, index) =>
    column.type.kind === 'decimal' && column.type.precision !== undefined ? [{ column: index, scale: column.type.scale, precision: column.type.precision }] : [],
  );
  return { columns, sourceIndex, isTime, dateColumns, boundedDecimals };
}

const mappings = {
  sales_order: salesOrderMapping,
  purchase_order: purchaseOrderMapping,
  payment: paymentMapping,
} as const;

export type FactSourceName = keyof typeof mappings;

const compiled: Readonly<Record<FactSourceName, CompiledMapping>> = {
  sales_order: compile(salesOrderMapping),
  purchase_order: compile(purchaseOrderMapping),
  payment: compile(paymentMapping),
};

export function isFactSource(source: string): source is FactSourceName {
  return Object.hasOwn(mappings, source);
}

/**
 * The source cells of the record being read, parsed: each column's value, and for a timestamp
 * its time of day beside the days of its date. Reused for every record, so a row allocates nothing
 * here.
 */
class ParsedRecord implements RecordSink {
  readonly values: PhysicalValue[];
  readonly times: number[];
  private readonly parts: TimestampParts = { days: 0, micros: 0 };

  constructor(
    private readonly columns: readonly ColumnDef[],
    private readonly onRecord: (line: number) => void,
  ) {
    this.values = columns.map(() => null);
    this.times = columns.map(() => 0);
  }

  cell(index: number, record: CellFields): void {
    const column = this.columns[index]!;
    if (record.isNull(index)) {
      if (!column.nullable) throw new CellRuleError('NULL in a NOT NULL column');
      this.values[index] = null;
      return;
    }
    // The same rules, in the same order, as parseCell; only the result's form differs.
    const type = column.type;
    switch (type.kind) {
      case 'int':
        this.values[index] = parseInt32At(record, index);
        return;
      case 'decimal':
        this.values[index] = parseUnscaledDecimalAt(record, index, type.scale, type.precision);
        return;
      case 'timestamp':
        parseTimestampPartsAt(record, index, this.parts);
        this.values[index] = this.parts.days;
        this.times[index] = this.parts.micros;
        return;
      case 'dateText':
        this.values[index] = parseDateDaysAt(record, index);
        return;
      case 'boolean':
        this.values[index] = parseBooleanAt(record, index);
        return;
      case 'text':
        this.values[index] = parseTextAt(record, index, type.maxLength);
        return;
      default:
        // Kinds that never occur in source tables: parseCellAt rejects them with its own message.
        this.values[index] = parseCellAt(column, record, index) as PhysicalValue;
    }
  }

  end(line: number): void {
    this.onRecord(line);
  }
}

/** The builder of one fact table (and the dim_date rows its dates need) from one ingestion object. */
export function factBuilder(source: FactSourceName, options: BuildOptions): WarehouseBuilder {
  const { fact, source: sourceTable } = mappings[source];
  const { columns, sourceIndex, isTime, dateColumns, boundedDecimals } = compiled[source];
  const encoder = createParquetEncoder(columns, { rowGroupSize: options.rowGroupSize });
  const dates = new Set<number>();
  // The fact row being built, reused: the encoder copies its values.
  const row: PhysicalValue[] = columns.map(() => null);
  const record: ParsedRecord = new ParsedRecord(sourceTable.columns, (line) => {
    const { values, times } = record;
    for (let index = 0; index < row.length; index += 1) {
      const from = sourceIndex[index]!;
      row[index] = isTime[index] ? times[from]! : values[from]!;
    }
    // After every cell of the record passed, as the bound is a rule of the fact, not of the source.
    for (const { column, scale, precision } of boundedDecimals) {
      try {
        checkUnscaledPrecision(row[column] as number | bigint, scale, precision);
      } catch (error) {
        if (!(error instanceof CellRuleError)) throw error;
        const name = columns[column]!.name;
        throw new InvalidInputError(`${options.key} line ${line}, column ${name}: ${error.message}`, {
          stage: 'transform', key: options.key, table: fact.name, line, column: name,
        });
      }
    }
    for (const column of dateColumns) dates.add(row[column] as number);
    encoder.pushPhysical(row);
  });
  return {
    records: record,
    finish: async (): Promise<TableOutput[]> => {
      if (encoder.rowCount === 0) return [];
      // Days sort as the dates do; dim_date is written in date order, as before.
      const dateRows = [...dates].sort((a, b) => a - b).map((days) => dimDateRow(daysToDate(days)));
      const dimDateEncoder = createParquetEncoder(parquetColumnsFor(dimDate), { rowGroupSize: options.rowGroupSize });
      for (const dateRow of dateRows) dimDateEncoder.push(dateRow);
      return [
        { table: dimDate, rows: dateRows.length, bytes: dimDateEncoder.finish() },
        { table: fact, rows: encoder.rowCount, bytes: encoder.finish() },
      ];
    },
  };
}
