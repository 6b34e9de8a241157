import type { ColumnDef } from '../../schemas/columns';
import type { CellValue, Row } from '../../schemas/rows';

/**
 * Checks decoded Parquet values against the rows.ts representation of their column, so a bad
 * file fails here with its row and column named, instead of deep inside COPY or a constraint.
 * Returns a description of the problem, or null when the value is fine.
 */
const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;
const timePattern = /^([01]\d|2[0-3]):([0-5]\d):([0-5]\d)\.\d{6}$/;

function isCalendarDate(value: string): boolean {
  const match = datePattern.exec(value);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

export function valueProblem(column: ColumnDef, value: CellValue | undefined): string | null {
  if (value === null || value === undefined) return column.nullable ? null : 'is NULL but the column is NOT NULL';
  const type = column.type;
  switch (type.kind) {
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX ? null : `${JSON.stringify(value)} is not a 32-bit integer`;
    case 'text':
      if (typeof value !== 'string') return `${JSON.stringify(value)} is not text`;
      return type.maxLength !== undefined && value.length > type.maxLength ? `is longer than ${type.maxLength} characters` : null;
    case 'decimal': {
      const match = typeof value === 'string' ? /^-?(\d+)\.(\d+)$|^-?(\d+)$/.exec(value) : null;
      if (!match) return `${JSON.stringify(value)} is not a decimal`;
      const whole = match[1] ?? match[3] ?? '';
      const fraction = match[2] ?? '';
      if (fraction.length > type.scale) return `${value} has more than ${type.scale} decimal places`;
      if (type.precision !== undefined && whole.replace(/^0+(?=\d)/, '').length > type.precision - type.scale) return `${value} does not fit numeric(${type.precision},${type.scale})`;
      return null;
    }
    case 'date':
      return typeof value === 'string' && isCalendarDate(value) ? null : `${JSON.stringify(value)} is not a date YYYY-MM-DD`;
    case 'time':
      return typeof value === 'string' && timePattern.test(value) ? null : `${JSON.stringify(value)} is not a time HH:MM:SS.ffffff`;
    case 'boolean':
      return typeof value === 'boolean' ? null : `${JSON.stringify(value)} is not a boolean`;
    case 'identity':
    case 'timestamp':
    case 'dateText':
      return `column kind ${type.kind} never appears in a processed file`;
  }
}

/** The first bad value of a file: its 1-based row number, column and problem. */
export function firstInvalidValue(columns: readonly ColumnDef[], rows: readonly Row[]): { row: number; column: string; problem: string } | null {
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index] ?? {};
    for (const column of columns) {
      const problem = valueProblem(column, row[column.name]);
      if (problem !== null) return { row: index + 1, column: column.name, problem };
    }
  }
  return null;
}
