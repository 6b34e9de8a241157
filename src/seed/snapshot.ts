import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { ColumnDef, TableDef } from '../schemas/columns';
import type { CellValue, Row } from '../schemas/rows';
import { sourceIdColumn } from '../schemas/source';
import { InvalidInputError } from '../errors';
import { centsToMoney, isCalendarDate, moneyToCents, timestampToMillis } from './values';

/** The real rows the project ships (data/README.md). */
export const defaultSnapshotDir = fileURLToPath(new URL('../../data/totesys-snapshot-2024-05/', import.meta.url));

/** The tables the May 2024 snapshot holds; the others are generated. */
export const snapshotTableNames = ['address', 'counterparty', 'currency', 'department', 'design', 'staff', 'sales_order'] as const;

const int32Max = 2_147_483_647;

function cellFrom(raw: unknown, column: ColumnDef): { value: CellValue } | { problem: string } {
  if (raw === null || raw === undefined) {
    return column.nullable ? { value: null } : { problem: 'is null but the column is NOT NULL' };
  }
  const type = column.type;
  switch (type.kind) {
    case 'int':
      return typeof raw === 'number' && Number.isInteger(raw) && Math.abs(raw) <= int32Max
        ? { value: raw }
        : { problem: `is ${JSON.stringify(raw)}, not a 32-bit integer` };
    case 'text':
      if (typeof raw !== 'string') return { problem: `is ${JSON.stringify(raw)}, not text` };
      if (type.maxLength !== undefined && raw.length > type.maxLength) return { problem: `is longer than ${type.maxLength} characters` };
      return { value: raw };
    case 'decimal': {
      const cents = moneyToCents(raw);
      return cents === undefined ? { problem: `is ${JSON.stringify(raw)}, not a decimal with at most 2 fractional digits` } : { value: centsToMoney(cents) };
    }
    case 'timestamp':
      return typeof raw === 'string' && timestampToMillis(raw) !== undefined
        ? { value: raw }
        : { problem: `is ${JSON.stringify(raw)}, not a timestamp YYYY-MM-DD HH:MM:SS[.ffffff]` };
    case 'dateText':
      return typeof raw === 'string' && isCalendarDate(raw) ? { value: raw } : { problem: `is ${JSON.stringify(raw)}, not a date YYYY-MM-DD` };
    case 'boolean':
      return typeof raw === 'boolean' ? { value: raw } : { problem: `is ${JSON.stringify(raw)}, not a boolean` };
    default:
      return { problem: `has kind ${type.kind}, which the totesys source never uses` };
  }
}

/**
 * Checks JSON rows (an array of objects keyed by column name) against a source table and returns
 * them sorted by id. Timestamps are kept as written (a value without fractional seconds stays
 * that way); money becomes canonical text.
 */
export function validateSnapshotRows(table: TableDef, rows: unknown, file: string): Row[] {
  const context = { stage: 'seed' as const, table: table.name, key: file };
  if (!Array.isArray(rows)) throw new InvalidInputError(`${file}: expected a JSON array of ${table.name} rows`, context);
  const expected = new Set(table.columns.map((column) => column.name));
  const validated = rows.map((raw: unknown, index): Row => {
    const line = index + 1;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new InvalidInputError(`${file}: row ${line} of ${table.name} is not an object`, { ...context, line });
    }
    const record = raw as Record<string, unknown>;
    const unknownColumn = Object.keys(record).find((name) => !expected.has(name));
    if (unknownColumn !== undefined) {
      throw new InvalidInputError(`${file}: row ${line} of ${table.name} has unknown column ${unknownColumn}`, { ...context, line, column: unknownColumn });
    }
    const row: Row = {};
    for (const column of table.columns) {
      if (!(column.name in record)) {
        throw new InvalidInputError(`${file}: row ${line} of ${table.name} lacks column ${column.name}`, { ...context, line, column: column.name });
      }
      const cell = cellFrom(record[column.name], column);
      if ('problem' in cell) {
        throw new InvalidInputError(`${file}: row ${line} of ${table.name}, column ${column.name} ${cell.problem}`, { ...context, line, column: column.name });
      }
      row[column.name] = cell.value;
    }
    return row;
  });
  const id = sourceIdColumn(table);
  return validated.sort((a, b) => (a[id] as number) - (b[id] as number));
}

export async function readSnapshotTable(table: TableDef, dir: string = defaultSnapshotDir): Promise<Row[]> {
  const file = join(dir, `${table.name}.json`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (cause) {
    throw new InvalidInputError(`cannot read the ${table.name} snapshot ${file}`, { stage: 'seed', table: table.name, key: file }, cause);
  }
  return validateSnapshotRows(table, parsed, file);
}
