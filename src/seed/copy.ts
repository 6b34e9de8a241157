import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quoteIdent } from '../schemas/columns';
import type { CellValue, Row } from '../schemas/rows';

/**
 * Streams rows into a table with `COPY … FROM STDIN (FORMAT csv)`. Rows are formatted lazily and
 * handed over in chunks of about 64 KiB, so memory stays flat whatever the row count and the
 * stream's backpressure paces the generator.
 */

const chunkBytes = 64 * 1024;

/** PostgreSQL CSV: NULL is an unquoted empty field, any text is quoted (so '' stays the empty string). */
export function csvField(value: CellValue): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return value ? 't' : 'f';
  return `"${value.replace(/"/g, '""')}"`;
}

function* csvChunks(columns: readonly string[], rows: Iterable<Row>, counter: { rows: number }): Generator<string> {
  let chunk = '';
  for (const row of rows) {
    let line = '';
    for (let index = 0; index < columns.length; index += 1) {
      if (index > 0) line += ',';
      line += csvField(row[columns[index] as string] ?? null);
    }
    chunk += `${line}\n`;
    counter.rows += 1;
    if (chunk.length >= chunkBytes) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Copies `rows` into `table` (`columns` in that order) and returns how many rows went in. */
export async function copyRows(client: pg.ClientBase, table: string, columns: readonly string[], rows: Iterable<Row>): Promise<number> {
  const counter = { rows: 0 };
  const sql = `COPY ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) FROM STDIN (FORMAT csv)`;
  const target = client.query(copyFrom(sql));
  await pipeline(Readable.from(csvChunks(columns, rows, counter), { objectMode: false }), target);
  return counter.rows;
}
