import type { ColumnDef } from '../../schemas/columns';
import type { CellValue, Row } from '../../schemas/rows';
import type { ExactIntegers } from '../../parquet/decode';
import type { DistinctKeys } from '../shared/distinct-keys';
import type { RowBatch, RowBatches } from './ports';

/** Rows already held as objects (a few dim_date rows, a test's rows) as one batch. */
export function rowBatchesOf(columns: readonly ColumnDef[], rows: readonly Row[]): RowBatches {
  return {
    columns,
    rowCount: rows.length,
    select: (names) => rowBatchesOf(selectedColumns(columns, names), rows),
    async *[Symbol.asyncIterator]() {
      if (rows.length === 0) return;
      yield { rowCount: rows.length, values: columns.map((column) => rows.map((row) => row[column.name])) };
    },
  };
}

/** The named columns of `columns`, in the order named (RowBatches.select). */
export function selectedColumns(columns: readonly ColumnDef[], names: readonly string[]): ColumnDef[] {
  return names.map((name) => {
    const column = columns.find((each) => each.name === name);
    if (!column) throw new Error(`rows have no column ${name}`);
    return column;
  });
}

/** One column of a batch: its exact integers when it has them, and how to get its values. */
export interface BatchColumn {
  readonly exact?: ExactIntegers;
  readonly values: () => ArrayLike<CellValue | undefined>;
}

/**
 * A batch of the given columns. A column given as exact integers stays so, and its `values`
 * entry is a getter: its text is formatted only if a reader gets to that column (the PostgreSQL
 * warehouse encodes the integers and never does).
 */
export function batchOfColumns(rowCount: number, columns: readonly BatchColumn[]): RowBatch {
  const values: Array<ArrayLike<CellValue | undefined>> = [];
  const exact: Array<ExactIntegers | undefined> = [];
  columns.forEach((column, index) => {
    exact.push(column.exact);
    if (column.exact) Object.defineProperty(values, index, { get: column.values, enumerable: true });
    else values[index] = column.values();
  });
  return { rowCount, values, exact };
}

/**
 * Adds the values of one column of a batch to `keys`. A date column given as exact days is
 * added as days, so its values are never formatted (see DistinctKeys.addDays).
 */
export function addColumnKeys(keys: DistinctKeys, batch: RowBatch, index: number): void {
  const exact = batch.exact?.[index];
  if (exact?.kind === 'date') keys.addDays(exact.integers, exact.nulls, batch.rowCount);
  else keys.addColumn(batch.values[index]!, batch.rowCount);
}
