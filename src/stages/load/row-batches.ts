import type { ColumnDef } from '../../schemas/columns';
import type { Row } from '../../schemas/rows';
import type { RowBatches } from './ports';

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
