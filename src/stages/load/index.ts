import { InvalidInputError, NotYetAvailableError } from '../../errors';
import { parquetColumnsFor } from '../../parquet/codec';
import { type DecodedRowGroup, type ParquetRowGroups, openParquet } from '../../parquet/decode';
import type { ColumnDef } from '../../schemas/columns';
import { parseProcessedKey } from '../../schemas/keys';
import type { Row } from '../../schemas/rows';
import { type WarehouseTableDef, type WarehouseTableName, refersToDimDate, warehouseTable } from '../../schemas/warehouse';
import type { Logger, ObjectStore } from '../ports';
import { dimDateRow } from '../shared/dim-date';
import { DistinctKeys } from '../shared/distinct-keys';
import { createInFlightLimit, type InFlightLimit } from '../shared/in-flight';
import { ObjectBuffers } from '../shared/object-buffers';
import type { MissingReference, RowBatch, RowBatches, Warehouse } from './ports';
import { addColumnKeys, batchOfColumns, selectedColumns } from './row-batches';
import { createRowGroupValidator } from './validate-rows';

export type { ApplyMeta, FactApplyMeta, FactApplyOutcome, MissingReference, RowBatch, RowBatches, Warehouse } from './ports';
export { rowBatchesOf } from './row-batches';

export interface LoadDeps {
  readonly processed: ObjectStore;
  readonly warehouse: Warehouse;
  readonly logger: Logger;
  /** Where objects are read into; by default, the process's own (one buffer per object in flight). */
  readonly objectBuffers?: ObjectBuffers;
  /** How many objects load at once; by default, the process's own limit (one at a time). */
  readonly objectsInFlight?: InFlightLimit;
}

export interface LoadReport {
  readonly key: string;
  readonly status: 'loaded' | 'skipped';
  readonly table?: WarehouseTableName;
  readonly rowsInFile: number;
  /** Rows that changed the warehouse: new fact versions, newer dimension versions, new dates. */
  readonly rowsApplied: number;
}

/**
 * Objects this process loads at once, whatever the batch size (see shared/in-flight.ts): one.
 * The load's time is PostgreSQL's, and the transactions of the other instances keep it busy; a
 * second object in flight only added its memory. Measured in the bench at 1M, one at a time
 * against two, alternating: the load's peak RSS 108–111 against 115–117 MB, its rate no lower
 * (README, Performance, twelfth round).
 */
const LOAD_OBJECTS_IN_FLIGHT = 1;
const processObjectsInFlight = createInFlightLimit(LOAD_OBJECTS_IN_FLIGHT);
/** One kept buffer per object in flight: see shared/object-buffers.ts. */
const processObjectBuffers = new ObjectBuffers(LOAD_OBJECTS_IN_FLIGHT);

/** How many missing ids an error message lists before it only counts them. */
const MAX_IDS_IN_MESSAGE = 20;

/** The object's footer, checked to name exactly the table's columns; no value is decoded yet. */
function openObject(key: string, table: WarehouseTableDef, bytes: Uint8Array): ParquetRowGroups {
  const context = { stage: 'load' as const, table: table.name, key };
  let file: ParquetRowGroups;
  try {
    file = openParquet(bytes);
  } catch (cause) {
    throw unreadable(key, table, cause);
  }
  const expected = parquetColumnsFor(table);
  const expectedNames = new Set(expected.map((column) => column.name));
  const present = new Set(file.columns);
  const missing = expected.map((column) => column.name).filter((name) => !present.has(name));
  const unexpected = file.columns.filter((name) => !expectedNames.has(name));
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [
      missing.length > 0 ? `missing columns ${missing.join(', ')}` : '',
      unexpected.length > 0 ? `unexpected columns ${unexpected.join(', ')}` : '',
    ].filter(Boolean);
    throw new InvalidInputError(`${table.name} object ${key}: ${parts.join('; ')}`, context);
  }
  return file;
}

function unreadable(key: string, table: WarehouseTableDef, cause: unknown): InvalidInputError {
  return new InvalidInputError(`${table.name} object ${key}: not a readable Parquet file`, { stage: 'load', table: table.name, key }, cause);
}

/**
 * The object's rows, one row group per batch, each validated before the warehouse sees it. A
 * bad value or an unreadable page in a later row group throws while the warehouse is copying:
 * it rolls back the whole object, so the file still loads completely or not at all.
 */
function validatedBatches(
  key: string,
  table: WarehouseTableDef,
  file: ParquetRowGroups,
  onBatch: (batch: RowBatch) => void,
  columns: readonly ColumnDef[] = parquetColumnsFor(table),
): RowBatches {
  const validate = createRowGroupValidator(columns);
  const names = columns.map((column) => column.name);
  return {
    columns,
    rowCount: file.rowCount,
    // A selection is read for what the warehouse writes, not to gather the file's dates again.
    select: (selected) => validatedBatches(key, table, file, () => undefined, selectedColumns(columns, selected)),
    async *[Symbol.asyncIterator]() {
      const groups = file.rowGroups(names);
      for (;;) {
        let next: IteratorResult<DecodedRowGroup>;
        try {
          next = await groups.next();
        } catch (cause) {
          throw unreadable(key, table, cause);
        }
        if (next.done) return;
        const group = next.value;
        const invalid = validate(group);
        if (invalid) {
          throw new InvalidInputError(`${table.name} object ${key}: row ${invalid.row} column ${invalid.column} ${invalid.problem}`, {
            stage: 'load',
            table: table.name,
            key,
            line: invalid.row,
            column: invalid.column,
          });
        }
        const batch = batchOf(columns, group);
        onBatch(batch);
        yield batch;
      }
    },
  };
}

/** A row group as a RowBatch of `columns`, its exact integers kept (see batchOfColumns). */
function batchOf(columns: readonly ColumnDef[], group: DecodedRowGroup): RowBatch {
  return batchOfColumns(group.rowCount, columns.map((column) => {
    const decoded = group.columns.get(column.name)!;
    return { exact: decoded.exact, values: () => decoded.values };
  }));
}

/**
 * Collects every date a fact file refers to as its batches pass, for the dim_date rows that
 * make its foreign keys to dim_date hold.
 */
function datesReferredTo(columns: readonly ColumnDef[]): { add(batch: RowBatch): void; rows(): Row[] } {
  const dateColumns = columns.flatMap((column, index) => (refersToDimDate(column) ? [index] : []));
  const dates = new DistinctKeys();
  return {
    add(batch) {
      for (const index of dateColumns) addColumnKeys(dates, batch, index);
    },
    rows: () => dates.values().map(String).sort().map(dimDateRow),
  };
}

function describeMissing(missing: readonly MissingReference[]): string {
  return missing
    .map((reference) => {
      const shown = reference.ids.slice(0, MAX_IDS_IN_MESSAGE).join(', ');
      const more = reference.ids.length > MAX_IDS_IN_MESSAGE ? ` and ${reference.ids.length - MAX_IDS_IN_MESSAGE} more` : '';
      return `${reference.table} ${reference.column} ${shown}${more} (${reference.rows} ${reference.rows === 1 ? 'row' : 'rows'})`;
    })
    .join('; ');
}

/**
 * Loads one processed Parquet object into the warehouse, in one transaction: facts insert only
 * versions not seen before, dimensions keep the newest source version, dim_date gains missing
 * dates. Safe to repeat and to run in any order. A key that is not a processed object is
 * skipped; a fact whose dimension rows have not arrived yet throws a retryable
 * NotYetAvailableError and loads nothing; a file that cannot be read, has the wrong columns or
 * holds a bad value throws InvalidInputError and loads nothing. The file is read one row group
 * at a time, straight into the warehouse's COPY, so its rows are never all held at once.
 */
export interface LoadInput {
  readonly key: string;
  /** An earlier delivery of this object failed; see FactApplyMeta.redelivered. */
  readonly redelivered?: boolean;
}

export async function loadObject(input: LoadInput, deps: LoadDeps): Promise<LoadReport> {
  const { key } = input;
  const processed = parseProcessedKey(key);
  if (!processed) {
    deps.logger.warn('skipping an object that is not a processed object', { key });
    return { key, status: 'skipped', rowsInFile: 0, rowsApplied: 0 };
  }
  const table = warehouseTable(processed.warehouseTable);
  // Each object in flight holds its file and a connection until its transaction ends.
  return (deps.objectsInFlight ?? processObjectsInFlight)(() => loadTable(input, table, deps));
}

async function loadTable(input: LoadInput, table: WarehouseTableDef, deps: LoadDeps): Promise<LoadReport> {
  const objectBuffers = deps.objectBuffers ?? processObjectBuffers;
  const bytes = await deps.processed.getBytes(input.key, (byteLength) => objectBuffers.take(byteLength));
  try {
    return await loadBytes(input, table, bytes, deps);
  } finally {
    // The decoded values may be views of these bytes; nothing reads them once the transaction has ended.
    objectBuffers.give(bytes);
  }
}

async function loadBytes({ key, redelivered = false }: LoadInput, table: WarehouseTableDef, bytes: Uint8Array, deps: LoadDeps): Promise<LoadReport> {
  const logger = deps.logger.child({ key, table: table.name });
  const file = openObject(key, table, bytes);

  let rowsApplied: number;
  if (table.kind === 'fact') {
    const dates = datesReferredTo(parquetColumnsFor(table));
    const rows = validatedBatches(key, table, file, (batch) => dates.add(batch));
    const outcome = await deps.warehouse.applyFacts(table, rows, { key, dates: () => dates.rows(), redelivered });
    if (outcome.status === 'waiting') {
      throw new NotYetAvailableError(`${table.name} object ${key}: waiting for ${describeMissing(outcome.missing)}`, {
        stage: 'load',
        table: table.name,
        key,
      });
    }
    rowsApplied = outcome.rowsApplied;
  } else {
    const rows = validatedBatches(key, table, file, () => undefined);
    rowsApplied = table.name === 'dim_date'
      ? (await deps.warehouse.applyDates(rows, { key })).rowsApplied
      : (await deps.warehouse.applyDimension(table, rows, { key })).rowsApplied;
  }
  logger.info('loaded', { rowsInFile: file.rowCount, rowsApplied });
  return { key, status: 'loaded', table: table.name, rowsInFile: file.rowCount, rowsApplied };
}
