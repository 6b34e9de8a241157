import type { Readable } from 'node:stream';
import { InvalidInputError, TotesError } from '../../errors';
import { columnNames, type TableDef } from '../../schemas/columns';
import type { Row } from '../../schemas/rows';
import { PgCsvError, PgCsvRecordReader, type PgCsvEnd, type PgCsvRecord } from './pg-csv';
import { CellRuleError, parseCellAt, type CellFields } from './values';

/** Receives each validated row with the line it starts on; runs synchronously inside the parse. */
export type RowSink = (row: Row, line: number) => void;

/**
 * Receives each record cell by cell, synchronously inside the parse: `cell` validates and keeps
 * the record's field `column` (throwing a {@link CellRuleError} that names the broken rule), `end`
 * takes the record once all its cells passed. It lets a consumer parse a cell straight into the
 * form it needs (a fact's physical Parquet values, from the bytes) rather than into a {@link Row}
 * it would convert again. The record is only valid during the call.
 */
export interface RecordSink {
  cell(column: number, record: CellFields): void;
  end(line: number): void;
}

/** The record sink that makes each record a {@link Row} of src/schemas/rows.ts. */
export function rowRecords(table: TableDef, onRow: RowSink): RecordSink {
  const columns = table.columns;
  let row: Row = {};
  return {
    cell(column, record) {
      const def = columns[column]!;
      row[def.name] = parseCellAt(def, record, column);
    },
    end(line) {
      const complete = row;
      row = {};
      onRow(complete, line);
    },
  };
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

function translateReadError(error: unknown, key: string, table: TableDef): unknown {
  if (error instanceof TotesError) return error;
  if (error instanceof PgCsvError) {
    const { line } = error;
    // The header's fields are not columns yet; a data record's field index is its column.
    const column = line > 1 ? table.columns[error.field]?.name : undefined;
    const reason =
      error.problem === 'quote-not-closed'
        ? 'the object ends inside a quoted field (truncated object?)'
        : `malformed CSV: ${error.message}${column === undefined ? '' : ` (column ${column})`}`;
    return new InvalidInputError(`${key} line ${line}: ${reason}`, { stage: 'transform', key, table: table.name, line, column }, error);
  }
  return new TotesError(`cannot read ${key}`, { context: { stage: 'transform', key, table: table.name }, retryable: true, cause: error });
}

/** S3 and file streams yield Buffers; anything else a Readable may carry is turned into one. */
function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.from(String(chunk));
}

/**
 * Streams one ingestion CSV (PostgreSQL's CSV format with a header) and validates every row
 * against its source table, handing each to `onRow` as it is parsed, so a large object is never
 * held in memory as text. The header must name exactly the table's columns in order. Any bad
 * row, a truncated body or a malformed record throws an {@link InvalidInputError} naming the key,
 * the line and the column. Returns the number of data rows.
 */
export async function readSourceCsv(body: Readable, table: TableDef, key: string, onRow: RowSink): Promise<number> {
  return readSourceRecords(body, table, key, rowRecords(table, onRow));
}

/**
 * {@link readSourceCsv} with the cells going to a {@link RecordSink}: the same checks, in the same
 * order (the header, then per record its field count, then its cells left to right), with the
 * same errors.
 */
export async function readSourceRecords(body: Readable, table: TableDef, key: string, sink: RecordSink): Promise<number> {
  const columns = table.columns;
  const context = { stage: 'transform' as const, key, table: table.name };
  let headerSeen = false;
  let rows = 0;

  const handle = (record: PgCsvRecord, line: number) => {
    if (!headerSeen) {
      checkHeader(record.toFields(), table, key);
      headerSeen = true;
      return;
    }
    // The header passed, so it has one field per column: a record that does not was cut short
    // or mangled.
    if (record.length !== columns.length) {
      throw new InvalidInputError(
        `${key} line ${line}: the record does not have one field per column (truncated object?): expected ${columns.length} fields, got ${record.length}`,
        { ...context, line },
      );
    }
    for (let index = 0; index < columns.length; index += 1) {
      try {
        sink.cell(index, record);
      } catch (error) {
        if (!(error instanceof CellRuleError)) throw error;
        const column = columns[index]!.name;
        throw new InvalidInputError(`${key} line ${line}, column ${column}: ${error.message}`, { ...context, line, column });
      }
    }
    rows += 1;
    sink.end(line);
  };

  const reader = new PgCsvRecordReader(handle);
  let end: PgCsvEnd;
  try {
    for await (const chunk of body) reader.push(asBuffer(chunk));
    end = reader.end();
  } catch (error) {
    throw translateReadError(error, key, table);
  }
  if (!headerSeen) throw new InvalidInputError(`${key}: the object is empty (no header line)`, { ...context, line: 1 });
  // PostgreSQL ends every record with a newline; a body that does not was cut short, even when
  // its last record happens to have the right number of fields.
  if (!end.terminated) {
    throw new InvalidInputError(`${key} line ${end.lastLine}: the last record has no line ending (truncated object?)`, { ...context, line: end.lastLine });
  }
  return rows;
}
