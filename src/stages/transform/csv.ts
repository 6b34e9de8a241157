import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { InvalidInputError, TotesError } from '../../errors';
import { columnNames, type TableDef } from '../../schemas/columns';
import type { CellValue, Row } from '../../schemas/rows';
import { CellRuleError, parseCell } from './values';

/** Receives each validated row with the line it starts on; runs synchronously inside the parse. */
export type RowSink = (row: Row, line: number) => void;

type Fields = (string | null)[];

interface ParsedRecord {
  readonly record: string[];
  readonly raw: string;
}

/** Line breaks inside a record's quoted fields: the next record starts that many lines later. */
function lineBreaksIn(record: Fields): number {
  let breaks = 0;
  for (const field of record) {
    if (field === null) continue;
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) breaks += 1;
  }
  return breaks;
}

/** For each field of one raw CSV record, whether it was written in quotes. */
function quotedFields(raw: string): boolean[] {
  const quoted: boolean[] = [];
  let at = 0;
  for (;;) {
    const isQuoted = raw[at] === '"';
    quoted.push(isQuoted);
    if (isQuoted) {
      // Skip to the closing quote; a doubled quote is an escaped one.
      at += 1;
      while (at < raw.length) {
        if (raw[at] === '"') {
          if (raw[at + 1] === '"') at += 2;
          else break;
        } else at += 1;
      }
      at += 1;
    }
    while (at < raw.length && raw[at] !== ',' && raw[at] !== '\n' && raw[at] !== '\r') at += 1;
    if (raw[at] !== ',') return quoted;
    at += 1;
  }
}

/**
 * PostgreSQL CSV writes NULL as an unquoted empty field and the empty string as `""`, and only
 * the quoting tells them apart. csv-parse's `cast` hook reports quoting but costs a context
 * object per field (10× the parse time), so the raw record is consulted instead, and only for
 * records that have an empty field at all.
 */
function withNulls({ record, raw }: ParsedRecord): Fields {
  if (!record.includes('')) return record;
  const quoted = quotedFields(raw);
  return record.map((value, index) => (value === '' && !quoted[index] ? null : value));
}

function checkHeader(header: readonly (string | null)[], table: TableDef, key: string): void {
  const expected = columnNames(table);
  const fail = (message: string, column?: string) => {
    throw new InvalidInputError(`${key} line 1: ${message}`, { stage: 'transform', key, table: table.name, line: 1, column });
  };
  const seen = new Set<string>();
  for (const name of header) {
    if (name === null || name === '') fail('the header has an empty column name');
    else if (seen.has(name)) fail(`column ${name} appears twice in the header`, name);
    else if (!expected.includes(name)) fail(`unknown column ${name} (${table.name} has ${expected.join(', ')})`, name);
    else seen.add(name);
  }
  const missing = expected.filter((name) => !seen.has(name));
  if (missing.length > 0) fail(`missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, missing[0]);
  if (header.some((name, index) => name !== expected[index])) {
    fail(`columns out of order: expected ${expected.join(', ')}, got ${header.join(', ')}`);
  }
}

/** Remembers the last byte seen, so a body that stops mid-record can be told from a complete one. */
function lastByteTracker(): { stream: Transform; lastByte: () => number | undefined } {
  let last: number | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (chunk.length > 0) last = chunk[chunk.length - 1];
      callback(null, chunk);
    },
  });
  return { stream, lastByte: () => last };
}

function translateParseError(error: unknown, key: string, table: TableDef): unknown {
  if (error instanceof TotesError) return error;
  if (error instanceof CsvError) {
    const line = typeof (error as { lines?: unknown }).lines === 'number' ? (error as unknown as { lines: number }).lines : undefined;
    const reason =
      error.code === 'CSV_QUOTE_NOT_CLOSED'
        ? 'the object ends inside a quoted field (truncated object?)'
        : error.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH'
          ? `the record does not have one field per column (truncated object?): ${error.message}`
          : `malformed CSV: ${error.message}`;
    return new InvalidInputError(`${key}${line === undefined ? '' : ` line ${line}`}: ${reason}`, { stage: 'transform', key, table: table.name, line }, error);
  }
  return new TotesError(`cannot read ${key}`, { context: { stage: 'transform', key, table: table.name }, retryable: true, cause: error });
}

/**
 * Streams one ingestion CSV (PostgreSQL's CSV format with a header) and validates every row
 * against its source table, handing each to `onRow` as it is parsed, so a large object is never
 * held in memory as text. The header must name exactly the table's columns in order. Any bad
 * row, a truncated body or a malformed record throws an {@link InvalidInputError} naming the key,
 * the line and the column. Returns the number of data rows.
 */
export async function readSourceCsv(body: Readable, table: TableDef, key: string, onRow: RowSink): Promise<number> {
  const columns = table.columns;
  const tracker = lastByteTracker();
  let headerSeen = false;
  let rows = 0;
  let nextLine = 1;

  const handle = (parsed: ParsedRecord) => {
    const record = withNulls(parsed);
    // Counted here rather than taken from csv-parse, which counts a quoted CRLF as two lines.
    const line = nextLine;
    nextLine = line + 1 + lineBreaksIn(record);
    if (!headerSeen) {
      checkHeader(record, table, key);
      headerSeen = true;
      return;
    }
    const row: Row = {};
    for (let index = 0; index < columns.length; index += 1) {
      const column = columns[index]!;
      let value: CellValue;
      try {
        value = parseCell(column, record[index] ?? null);
      } catch (error) {
        if (!(error instanceof CellRuleError)) throw error;
        throw new InvalidInputError(`${key} line ${line}, column ${column.name}: ${error.message}`, {
          stage: 'transform', key, table: table.name, line, column: column.name,
        });
      }
      row[column.name] = value;
    }
    rows += 1;
    onRow(row, line);
  };

  const sink = new Writable({
    objectMode: true,
    write(record: ParsedRecord, _encoding, callback) {
      try {
        handle(record);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
  });

  const parser = parse({ raw: true, bom: false, relax_quotes: false });
  try {
    await pipeline(body, tracker.stream, parser, sink);
  } catch (error) {
    throw translateParseError(error, key, table);
  }
  const context = { stage: 'transform' as const, key, table: table.name };
  if (!headerSeen) throw new InvalidInputError(`${key}: the object is empty (no header line)`, { ...context, line: 1 });
  // PostgreSQL ends every record with a newline; a body that does not was cut short, even when
  // its last record happens to have the right number of fields.
  if (tracker.lastByte() !== 0x0a) {
    const lastLine = nextLine - 1;
    throw new InvalidInputError(`${key} line ${lastLine}: the last record has no line ending (truncated object?)`, { ...context, line: lastLine });
  }
  return rows;
}
