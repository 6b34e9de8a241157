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

/**
 * The given columns of a batch, in the order given. A column the batch has as exact integers
 * stays so, and its text is still formatted only if read.
 */
export function pickColumns(batch: RowBatch, indexes: readonly number[]): RowBatch {
  const values: Array<ArrayLike<CellValue | undefined>> = [];
  const exact: Array<ExactIntegers | undefined> = [];
  indexes.forEach((from, to) => {
    const integers = batch.exact?.[from];
    exact.push(integers);
    if (integers) Object.defineProperty(values, to, { get: () => batch.values[from], enumerable: true });
    else values[to] = batch.values[from]!;
  });
  return { rowCount: batch.rowCount, values, exact };
}
