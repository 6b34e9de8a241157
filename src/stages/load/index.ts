import { InvalidInputError, NotYetAvailableError } from '../../errors';
import { parquetColumnsFor, decodeParquet } from '../../parquet/codec';
import { parseProcessedKey } from '../../schemas/keys';
import type { Row } from '../../schemas/rows';
import { type FactDef, type WarehouseTableDef, type WarehouseTableName, warehouseTable } from '../../schemas/warehouse';
import type { Logger, ObjectStore } from '../ports';
import { dimDateRow } from '../shared/dim-date';
import { createInFlightLimit, DEFAULT_OBJECTS_IN_FLIGHT } from '../shared/in-flight';
import type { MissingReference, Warehouse } from './ports';
import { firstInvalidValue } from './validate-rows';

export type { ApplyMeta, FactApplyMeta, FactApplyOutcome, MissingReference, Warehouse } from './ports';

export interface LoadDeps {
  readonly processed: ObjectStore;
  readonly warehouse: Warehouse;
  readonly logger: Logger;
}

export interface LoadReport {
  readonly key: string;
  readonly status: 'loaded' | 'skipped';
  readonly table?: WarehouseTableName;
  readonly rowsInFile: number;
  /** Rows that changed the warehouse: new fact versions, newer dimension versions, new dates. */
  readonly rowsApplied: number;
}

/** Objects this process loads at once, whatever the batch size: see shared/in-flight.ts. */
const objectsInFlight = createInFlightLimit(DEFAULT_OBJECTS_IN_FLIGHT);

/** How many missing ids an error message lists before it only counts them. */
const MAX_IDS_IN_MESSAGE = 20;

async function readRows(key: string, table: WarehouseTableDef, bytes: Uint8Array): Promise<Row[]> {
  const context = { stage: 'load' as const, table: table.name, key };
  let decoded: { columns: string[]; rows: Row[] };
  try {
    decoded = await decodeParquet(bytes);
  } catch (cause) {
    throw new InvalidInputError(`${table.name} object ${key}: not a readable Parquet file`, context, cause);
  }
  const expected = parquetColumnsFor(table);
  const expectedNames = new Set(expected.map((column) => column.name));
  const present = new Set(decoded.columns);
  const missing = expected.map((column) => column.name).filter((name) => !present.has(name));
  const unexpected = decoded.columns.filter((name) => !expectedNames.has(name));
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [
      missing.length > 0 ? `missing columns ${missing.join(', ')}` : '',
      unexpected.length > 0 ? `unexpected columns ${unexpected.join(', ')}` : '',
    ].filter(Boolean);
    throw new InvalidInputError(`${table.name} object ${key}: ${parts.join('; ')}`, context);
  }
  const invalid = firstInvalidValue(expected, decoded.rows);
  if (invalid) {
    throw new InvalidInputError(`${table.name} object ${key}: row ${invalid.row} column ${invalid.column} ${invalid.problem}`, {
      ...context,
      line: invalid.row,
      column: invalid.column,
    });
  }
  return decoded.rows;
}

/** The dim_date rows of every date a fact file refers to, so its foreign keys to dim_date hold. */
function datesReferredTo(table: FactDef, rows: readonly Row[]): Row[] {
  const dateColumns = table.columns.filter((column) => column.references?.table === 'dim_date').map((column) => column.name);
  const dates = new Set<string>();
  for (const row of rows) for (const name of dateColumns) dates.add(String(row[name]));
  return [...dates].sort().map(dimDateRow);
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
 * NotYetAvailableError and loads nothing; a file that cannot be read or has the wrong columns
 * throws InvalidInputError and loads nothing.
 */
export async function loadObject(input: { key: string }, deps: LoadDeps): Promise<LoadReport> {
  const { key } = input;
  const processed = parseProcessedKey(key);
  if (!processed) {
    deps.logger.warn('skipping an object that is not a processed object', { key });
    return { key, status: 'skipped', rowsInFile: 0, rowsApplied: 0 };
  }
  const table = warehouseTable(processed.warehouseTable);
  // Decoded rows are held until their transaction ends, so only a few objects are read at once.
  return objectsInFlight(() => loadTable(key, table, deps));
}

async function loadTable(key: string, table: WarehouseTableDef, deps: LoadDeps): Promise<LoadReport> {
  const logger = deps.logger.child({ key, table: table.name });
  const rows = await readRows(key, table, await deps.processed.getBytes(key));

  let rowsApplied: number;
  if (table.kind === 'fact') {
    const outcome = await deps.warehouse.applyFacts(table, rows, { key, dates: datesReferredTo(table, rows) });
    if (outcome.status === 'waiting') {
      throw new NotYetAvailableError(`${table.name} object ${key}: waiting for ${describeMissing(outcome.missing)}`, {
        stage: 'load',
        table: table.name,
        key,
      });
    }
    rowsApplied = outcome.rowsApplied;
  } else if (table.name === 'dim_date') {
    rowsApplied = (await deps.warehouse.applyDates(rows, { key })).rowsApplied;
  } else {
    rowsApplied = (await deps.warehouse.applyDimension(table, rows, { key })).rowsApplied;
  }
  logger.info('loaded', { rowsInFile: rows.length, rowsApplied });
  return { key, status: 'loaded', table: table.name, rowsInFile: rows.length, rowsApplied };
}
