import { MICROS_PER_DAY } from '../../parquet/codec';
import type { DecodedColumn, DecodedRowGroup, ExactIntegers } from '../../parquet/decode';
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

const isDigit = (code: number) => code >= 0x30 && code <= 0x39;

/** timePattern, character by character: a fact file holds two times per row, mostly distinct. */
function isTimeOfDay(value: string): boolean {
  if (value.length !== 15 || value.charCodeAt(2) !== 0x3a || value.charCodeAt(5) !== 0x3a || value.charCodeAt(8) !== 0x2e) return false;
  for (const at of [0, 1, 3, 4, 6, 7, 9, 10, 11, 12, 13, 14]) if (!isDigit(value.charCodeAt(at))) return false;
  const hours = (value.charCodeAt(0) - 0x30) * 10 + value.charCodeAt(1) - 0x30;
  return hours <= 23 && value.charCodeAt(3) <= 0x35 && value.charCodeAt(6) <= 0x35;
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

export interface InvalidValue {
  /** 1-based row number in the file. */
  readonly row: number;
  readonly column: string;
  readonly problem: string;
}

/**
 * A cheap first pass over one column: the index of the first value at or after `from` (and
 * before `end`) that may break the column's rule, or -1. It may flag a good value (valueProblem
 * then clears it) but never passes a bad one, so the rules and messages stay valueProblem's.
 */
type SuspectScan = (values: ArrayLike<CellValue | undefined>, from: number, end: number) => number;

function firstNull(values: ArrayLike<CellValue | undefined>, from: number, end: number): number {
  for (let index = from; index < end; index += 1) if (values[index] === null || values[index] === undefined) return index;
  return -1;
}

const noSuspects: SuspectScan = () => -1;

/** Every value is a suspect for valueProblem itself: for values whose origin guarantees nothing. */
function everyValue(column: ColumnDef): SuspectScan {
  return (values, from, end) => {
    for (let index = from; index < end; index += 1) if (valueProblem(column, values[index]) !== null) return index;
    return -1;
  };
}

/** Flags a NULL in a NOT NULL column, and any present value `isSuspect` flags. */
function presentValues(column: ColumnDef, isSuspect: (value: CellValue) => boolean): SuspectScan {
  return (values, from, end) => {
    for (let index = from; index < end; index += 1) {
      const value = values[index];
      if (value === null || value === undefined) {
        if (!column.nullable) return index;
      } else if (isSuspect(value)) return index;
    }
    return -1;
  };
}

/** What the Parquet type of a column already guarantees about its values, per rule of rows.ts. */
function suspectScan(column: ColumnDef, decoded: DecodedColumn['decoded']): SuspectScan {
  const type = column.type;
  const nullCheck = column.nullable ? noSuspects : firstNull;
  // An INT32 is a 32-bit integer, a BOOLEAN a boolean, UTF-8 text is text: only NULL is left to check.
  if ((type.kind === 'int' && decoded.kind === 'int32') || (type.kind === 'boolean' && decoded.kind === 'boolean')) return nullCheck;
  if (type.kind === 'text' && decoded.kind === 'text') {
    const { maxLength } = type;
    if (maxLength === undefined) return nullCheck;
    return presentValues(column, (value) => (value as string).length > maxLength);
  }
  if (type.kind === 'date' && decoded.kind === 'date') {
    // A file refers to few distinct days, and the decoder gives each one string: check each once.
    const checked = new Map<CellValue, boolean>();
    return presentValues(column, (value) => {
      let valid = checked.get(value);
      if (valid === undefined) {
        valid = valueProblem(column, value) === null;
        checked.set(value, valid);
      }
      return !valid;
    });
  }
  if (type.kind === 'time') return presentValues(column, (value) => typeof value !== 'string' || !isTimeOfDay(value));
  if (type.kind === 'decimal' && decoded.kind === 'decimal') {
    // The decoder writes exactly decoded.scale fraction digits and a whole part without leading
    // zeros, so only the number of whole digits can break the rule, unless the scale does.
    if (decoded.scale > type.scale) return everyValue(column);
    const maxWholeDigits = type.precision === undefined ? Infinity : type.precision - type.scale;
    const notWhole = decoded.scale > 0 ? decoded.scale + 1 : 0;
    return presentValues(column, (value) => {
      const text = value as string;
      return text.length - (text.charCodeAt(0) === 45 ? 1 : 0) - notWhole > maxWholeDigits;
    });
  }
  return everyValue(column);
}


/** 0100-01-01 and 9999-12-31 in days since 1970-01-01: the dates isCalendarDate accepts lie between. */
const FIRST_CALENDAR_DAY = Date.UTC(100, 0, 1) / 86_400_000;
const LAST_CALENDAR_DAY = Date.UTC(9999, 11, 31) / 86_400_000;

/**
 * The first suspect at or after `from` among exact integers (see ExactIntegers): a NULL in a
 * NOT NULL column, a date outside four-digit years, a time outside the day, a decimal with too
 * many whole digits. Checking the
 * integers spares formatting the text of every value; only a suspect is formatted, for
 * valueProblem to judge with its own rule and message.
 */
type ExactScan = (exact: ExactIntegers, from: number, end: number) => number;

function exactScan(column: ColumnDef): ExactScan | null {
  const type = column.type;
  let outOfRange: (integer: number, scale: number) => boolean;
  if (type.kind === 'date') {
    // isCalendarDate accepts four-digit years from 0100 (Date.UTC reads 0–99 as 1900–1999).
    outOfRange = (days) => !(days >= FIRST_CALENDAR_DAY && days <= LAST_CALENDAR_DAY);
  } else if (type.kind === 'time') {
    // timePattern allows 00:00:00.000000 to 23:59:59.999999.
    outOfRange = (micros) => !(micros >= 0 && micros < MICROS_PER_DAY);
  } else if (type.kind === 'decimal') {
    const maxWholeDigits = type.precision === undefined ? Infinity : type.precision - type.scale;
    outOfRange = (unscaled, scale) => {
      // As text, a scale above the column's breaks the rule, and a whole part of more digits
      // than maxWholeDigits does ("0" counts as one digit, so with none allowed every value is a suspect).
      if (scale > type.scale || maxWholeDigits < 1) return true;
      return Math.abs(unscaled) >= 10 ** (maxWholeDigits + scale);
    };
  } else {
    return null;
  }
  return ({ scale, integers, nulls }, from, end) => {
    for (let index = from; index < end; index += 1) {
      if (nulls?.[index] === 1) {
        if (!column.nullable) return index;
      } else if (outOfRange(integers[index]!, scale)) return index;
    }
    return -1;
  };
}

/**
 * Validates a file one row group at a time, column by column, with the rules of valueProblem,
 * and reports what firstInvalidValue would report for the whole file: the first bad row, and in
 * it the first bad column in `columns` order. Row groups must come in file order.
 */
export function createRowGroupValidator(columns: readonly ColumnDef[]): (group: DecodedRowGroup) => InvalidValue | null {
  const scans = new Map<string, SuspectScan>();
  const exactScans = new Map<string, ExactScan | null>();
  /** The next suspect of one column of one row group, from the integers when the decoder kept them, else from the values. */
  const suspectsOf = (column: ColumnDef, decoded: DecodedColumn): ((from: number, end: number) => number) => {
    const { exact } = decoded;
    // Integers of the column's own kind only: a decimal in a time column is judged as text, and refused.
    if (exact && exact.kind === column.type.kind) {
      if (!exactScans.has(column.name)) exactScans.set(column.name, exactScan(column));
      const scan = exactScans.get(column.name);
      if (scan) return (from, end) => scan(exact, from, end);
    }
    let scan = scans.get(column.name);
    if (!scan) {
      scan = suspectScan(column, decoded.decoded);
      scans.set(column.name, scan);
    }
    const valueScan = scan;
    return (from, end) => valueScan(decoded.values, from, end);
  };
  return (group) => {
    let firstRow = group.rowCount;
    let found: { column: string; problem: string } | null = null;
    for (const column of columns) {
      const decoded = group.columns.get(column.name);
      if (!decoded) throw new Error(`row group has no column ${column.name}`);
      const nextSuspect = suspectsOf(column, decoded);
      // Only rows before the first bad one found so far matter; an equal row keeps the earlier column.
      for (let index = nextSuspect(0, firstRow); index !== -1; index = nextSuspect(index + 1, firstRow)) {
        const problem = valueProblem(column, decoded.values[index]);
        if (problem !== null) {
          firstRow = index;
          found = { column: column.name, problem };
          break;
        }
      }
    }
    return found ? { row: group.rowStart + firstRow + 1, ...found } : null;
  };
}
