import { Readable } from 'node:stream';
import type { ColumnDef } from '../schemas/columns';
import type { CellValue, Row } from '../schemas/rows';

/**
 * Rows as the CSV that `COPY … FROM STDIN (FORMAT csv)` reads. NULL is an unquoted empty field
 * and every non-NULL text value is quoted, so the empty string ("") stays distinct from NULL and
 * a lone `\.` can never be taken for the end-of-data marker.
 */
export function csvField(value: CellValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot COPY the number ${value}`);
    return String(value);
  }
  return `"${value.replace(/"/g, '""')}"`;
}

export function csvLine(columns: readonly ColumnDef[], row: Row): string {
  return `${columns.map((column) => csvField(row[column.name])).join(',')}\n`;
}

/** Rows per chunk written to the COPY stream: large enough to keep the per-write overhead low. */
const ROWS_PER_CHUNK = 1_000;

/** A stream of CSV chunks, produced lazily so memory stays with the rows already held. */
export function csvStream(columns: readonly ColumnDef[], rows: readonly Row[]): Readable {
  function* chunks(): Generator<string> {
    for (let start = 0; start < rows.length; start += ROWS_PER_CHUNK) {
      let chunk = '';
      for (const row of rows.slice(start, start + ROWS_PER_CHUNK)) chunk += csvLine(columns, row);
      yield chunk;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
