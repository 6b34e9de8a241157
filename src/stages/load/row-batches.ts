import type { ColumnDef } from '../../schemas/columns';
import type { CellValue, Row } from '../../schemas/rows';
import type { ExactIntegers } from '../../parquet/decode';
import type { RowBatch, RowBatches } from './ports';

/** Rows already held as objects (a few dim_date rows, a test's rows) as one batch. */
export function rowBatchesOf(columns: readonly ColumnDef[], rows: readonly Row[]): RowBatches {
  return {
    columns,
    rowCount: rows.length,
    async *[Symbol.asyncIterator]() {
      if (rows.length === 0) return;
      yield { rowCount: rows.length, values: columns.map((column) => rows.map((row) => row[column.name])) };
    },
  };
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

/** The given columns of a batch, in the order given, exact integers kept. */
export function pickColumns(batch: RowBatch, indexes: readonly number[]): RowBatch {
  return batchOfColumns(batch.rowCount, indexes.map((from) => ({ exact: batch.exact?.[from], values: () => batch.values[from]! })));
}
