import { Readable } from 'node:stream';
import type { ColumnDef } from '../schemas/columns';
import type { CellValue, Row } from '../schemas/rows';
import type { RowBatch } from '../stages/load/ports';

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
  // Most values hold no quote: skip the replace (and its regex) for them.
  return value.includes('"') ? `"${value.replace(/"/g, '""')}"` : `"${value}"`;
}

export function csvLine(columns: readonly ColumnDef[], row: Row): string {
  return `${columns.map((column) => csvField(row[column.name])).join(',')}\n`;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const NEWLINE = 0x0a;

/**
 * A batch's CSV written straight into bytes, as csvField and csvLine would write it. Building a
 * row group's CSV as strings made a rope of ~300,000 pieces that lived through several young
 * collections: a quarter of the load's CPU went to the garbage collector. Here nothing is
 * allocated per value, except the text of a number that is not a 32-bit integer.
 */
class CsvBytes {
  private bytes: Buffer;
  private length = 0;

  constructor(capacity: number) {
    this.bytes = Buffer.allocUnsafe(Math.max(capacity, 1_024));
  }

  /** Room for `count` more bytes. */
  private reserve(count: number): void {
    if (this.length + count <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + count));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  byte(value: number): void {
    this.reserve(1);
    this.bytes[this.length++] = value;
  }

  field(value: CellValue | undefined): void {
    if (value === null || value === undefined) return;
    if (typeof value === 'string') this.quoted(value);
    else if (typeof value === 'boolean') this.byte(value ? 0x74 : 0x66);
    else if ((value | 0) === value && !Object.is(value, -0)) this.integer(value);
    else this.ascii(csvField(value));
  }

  /** A 32-bit integer, digit by digit. */
  private integer(value: number): void {
    this.reserve(11);
    let rest = value;
    if (rest < 0) {
      this.bytes[this.length++] = 0x2d;
      rest = -rest;
    }
    let digits = 1;
    for (let power = 10; power <= rest; power *= 10) digits += 1;
    // Written from the last digit back, so no digit string is made.
    let at = this.length + digits;
    this.length = at;
    do {
      this.bytes[--at] = 0x30 + (rest % 10);
      rest = Math.floor(rest / 10);
    } while (rest > 0);
  }

  private ascii(text: string): void {
    this.reserve(text.length);
    for (let index = 0; index < text.length; index += 1) this.bytes[this.length++] = text.charCodeAt(index);
  }

  /** `"text"` with every `"` doubled; ASCII byte by byte, the rest of a string through UTF-8 encoding. */
  private quoted(text: string): void {
    // Worst case: every character a doubled quote, plus the two around.
    this.reserve(2 * text.length + 2);
    this.bytes[this.length++] = QUOTE;
    for (let index = 0; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      if (code >= 0x80) {
        const rest = text.slice(index).replace(/"/g, '""');
        this.reserve(Buffer.byteLength(rest) + 1);
        this.length += this.bytes.write(rest, this.length, 'utf8');
        break;
      }
      if (code === QUOTE) this.bytes[this.length++] = QUOTE;
      this.bytes[this.length++] = code;
    }
    this.byte(QUOTE);
  }

  take(): Buffer {
    return this.bytes.subarray(0, this.length);
  }
}

/** One batch's rows as CSV lines (the bytes csvLine would give), read across its columns. */
export function csvRows(batch: RowBatch): Buffer {
  const { values, rowCount } = batch;
  // About 120 bytes per fact row; grown when a batch needs more.
  const csv = new CsvBytes(rowCount * values.length * 10);
  for (let row = 0; row < rowCount; row += 1) {
    for (let column = 0; column < values.length; column += 1) {
      if (column > 0) csv.byte(COMMA);
      csv.field(values[column]![row]);
    }
    csv.byte(NEWLINE);
  }
  return csv.take();
}

/** The COPY input of a stream of batches, one chunk per batch: memory holds one batch's CSV at a time. */
export function csvStream(batches: AsyncIterable<RowBatch>): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const batch of batches) if (batch.rowCount > 0) yield csvRows(batch);
  }
  return Readable.from(chunks(), { objectMode: false });
}
