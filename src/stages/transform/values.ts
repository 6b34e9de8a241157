import type { ColumnDef, ColumnType } from '../../schemas/columns';
import { sourceTimestampPattern } from '../../schemas/keys';
import type { CellValue } from '../../schemas/rows';

/**
 * Validation of one CSV cell against its source column, producing the value in the
 * representation of src/schemas/rows.ts. A failure is a {@link CellRuleError} carrying only the
 * broken rule; the CSV reader adds the object key, line and column around it.
 */
export class CellRuleError extends Error {}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const integerPattern = /^-?\d+$/;
const decimalPattern = /^(-?)(\d+)(?:\.(\d+))?$/;
const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;

function quoted(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** True when year, month and day name a day that exists (2024-02-29 yes, 2024-02-30 no). */
export function isCalendarDate(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const monthLengths = [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return day <= (monthLengths[month - 1] ?? 0);
}

function parseInt32(raw: string): number {
  if (!integerPattern.test(raw)) throw new CellRuleError(`${quoted(raw)} is not an integer`);
  const value = Number(raw);
  if (value < INT32_MIN || value > INT32_MAX) throw new CellRuleError(`${quoted(raw)} is out of range for a 32-bit integer`);
  return value;
}

/**
 * Exact decimal to its canonical text with exactly `scale` fractional digits. Digits are handled
 * as text throughout, so no value ever passes through a float. Zeros beyond the scale carry no
 * value (PostgreSQL's unconstrained numeric may print `3.9400`) and are dropped; any other digit
 * beyond it would be lost, so the value is rejected rather than rounded.
 */
export function parseDecimal(raw: string, scale: number, precision?: number): string {
  const match = decimalPattern.exec(raw);
  if (!match) throw new CellRuleError(`${quoted(raw)} is not a decimal`);
  const [, sign = '', digits = '0', fraction = ''] = match;
  if (fraction.length > scale && /[1-9]/.test(fraction.slice(scale))) {
    throw new CellRuleError(`${quoted(raw)} has more than ${scale} decimal places (it would have to be rounded)`);
  }
  const whole = digits.replace(/^0+(?=\d)/, '');
  if (precision !== undefined && whole.length > precision - scale) {
    throw new CellRuleError(`${quoted(raw)} does not fit numeric(${precision},${scale})`);
  }
  const kept = fraction.slice(0, scale).padEnd(scale, '0');
  const isZero = /^0*$/.test(whole + kept);
  return `${sign === '-' && !isZero ? '-' : ''}${whole}${scale > 0 ? `.${kept}` : ''}`;
}

/** A source timestamp, validated as a real date and time and normalised to microseconds. */
export function parseTimestamp(raw: string): string {
  const match = sourceTimestampPattern.exec(raw);
  if (!match) throw new CellRuleError(`${quoted(raw)} is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff])`);
  const [, y, mo, d, h, mi, s, fraction = ''] = match;
  if (!isCalendarDate(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    throw new CellRuleError(`${quoted(raw)} is not a valid timestamp`);
  }
  return `${y}-${mo}-${d} ${h}:${mi}:${s}.${fraction.padEnd(6, '0')}`;
}

/** A `YYYY-MM-DD` held in a varchar, validated as a day that exists. */
export function parseDateText(raw: string): string {
  const match = datePattern.exec(raw);
  if (!match || !isCalendarDate(Number(match[1]), Number(match[2]), Number(match[3]))) {
    throw new CellRuleError(`${quoted(raw)} is not a valid date (expected a real calendar date YYYY-MM-DD)`);
  }
  return raw;
}

function parseBoolean(raw: string): boolean {
  if (raw === 't' || raw === 'true') return true;
  if (raw === 'f' || raw === 'false') return false;
  throw new CellRuleError(`${quoted(raw)} is not a boolean (expected t, f, true or false)`);
}

/** varchar(n) counts characters, not UTF-16 units: an emoji is one character to PostgreSQL. */
function characterCount(value: string): number {
  let count = 0;
  for (const _character of value) count += 1;
  return count;
}

function parseText(raw: string, maxLength: number | undefined): string {
  if (maxLength !== undefined && raw.length > maxLength && characterCount(raw) > maxLength) {
    throw new CellRuleError(`${quoted(raw)} is longer than varchar(${maxLength})`);
  }
  return raw;
}

function parseValue(type: ColumnType, raw: string): CellValue {
  switch (type.kind) {
    case 'int':
      return parseInt32(raw);
    case 'decimal':
      return parseDecimal(raw, type.scale, type.precision);
    case 'timestamp':
      return parseTimestamp(raw);
    case 'dateText':
      return parseDateText(raw);
    case 'boolean':
      return parseBoolean(raw);
    case 'text':
      return parseText(raw, type.maxLength);
    case 'date':
    case 'time':
    case 'identity':
      throw new CellRuleError(`column type ${type.kind} does not occur in source tables`);
  }
}

/**
 * One cell: `null` is SQL NULL (an unquoted empty field in PostgreSQL CSV), `''` the empty string.
 */
export function parseCell(column: ColumnDef, raw: string | null): CellValue {
  if (raw === null) {
    if (!column.nullable) throw new CellRuleError('NULL in a NOT NULL column');
    return null;
  }
  return parseValue(column.type, raw);
}
