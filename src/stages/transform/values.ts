import { daysFromCivil } from '../../parquet/codec';
import type { ColumnDef, ColumnType } from '../../schemas/columns';
import type { CellValue } from '../../schemas/rows';

/**
 * Validation of one CSV cell against its source column, producing the value in the
 * representation of src/schemas/rows.ts. A failure is a {@link CellRuleError} carrying only the
 * broken rule; the CSV reader adds the object key, line and column around it.
 */
export class CellRuleError extends Error {}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const decimalPattern = /^(-?)(\d+)(?:\.(\d+))?$/;

const ZERO = 0x30;
const MINUS = 0x2d;
const DOT = 0x2e;
const COLON = 0x3a;
const SPACE = 0x20;
const MICROS_PER_SECOND = 1_000_000;
/** Powers of ten for padding a fraction of 0–6 digits to microseconds. */
const FRACTION_SCALE = [1_000_000, 100_000, 10_000, 1_000, 100, 10, 1];
/** What a fraction of n digits lacks to be microseconds (index n). */
const FRACTION_PADDING = ['.000000', '00000', '0000', '000', '00', '0', ''];
/** Digits an unscaled decimal may have and still be exact in a double (< 2^53). */
const SAFE_DECIMAL_DIGITS = 15;

// The scanners below replace regular expressions that ran several times per row (a 100,000-row
// object has 200,000 timestamps): they read char codes in place and build no match arrays or
// substrings. Each accepts exactly what the pattern in its comment accepts (JavaScript's `\d`
// is ASCII 0-9 only).

/** The value of `length` ASCII digits at `at`, or -1 when any of them is not a digit. */
function digitsAt(raw: string, at: number, length: number): number {
  let value = 0;
  for (let index = at; index < at + length; index += 1) {
    const digit = raw.charCodeAt(index) - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * `(\d{4})-(\d{2})-(\d{2})` at the start of `raw` (the caller checks the length): true with the
 * year, month and day in `parts`, or false.
 */
function datePrefix(raw: string, parts: DateParts): boolean {
  if (raw.charCodeAt(4) !== MINUS || raw.charCodeAt(7) !== MINUS) return false;
  parts.year = digitsAt(raw, 0, 4);
  parts.month = digitsAt(raw, 5, 2);
  parts.day = digitsAt(raw, 8, 2);
  return parts.year >= 0 && parts.month >= 0 && parts.day >= 0;
}

interface DateParts {
  year: number;
  month: number;
  day: number;
}

/** Scratch for the scanners: they run synchronously, one cell at a time. */
const scratchDate: DateParts = { year: 0, month: 0, day: 0 };

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

/** `^-?\d+$`, within the 32-bit range. `-0` is -0, as `Number` makes it; it is written as 0. */
export function parseInt32(raw: string): number {
  const length = raw.length;
  const negative = raw.charCodeAt(0) === MINUS;
  let at = negative ? 1 : 0;
  if (at === length) throw new CellRuleError(`${quoted(raw)} is not an integer`);
  let value = 0;
  for (; at < length; at += 1) {
    const digit = raw.charCodeAt(at) - ZERO;
    if (digit < 0 || digit > 9) throw new CellRuleError(`${quoted(raw)} is not an integer`);
    // Past 2^31 the value is rejected below whatever follows, so rounding beyond 2^53 is harmless.
    value = value * 10 + digit;
  }
  if (negative) value = -value;
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
  if (precision !== undefined && whole.length > precision - scale) throw doesNotFit(raw, scale, precision);
  const kept = fraction.slice(0, scale).padEnd(scale, '0');
  const isZero = /^0*$/.test(whole + kept);
  return `${sign === '-' && !isZero ? '-' : ''}${whole}${scale > 0 ? `.${kept}` : ''}`;
}

function doesNotFit(text: string, scale: number, precision: number): CellRuleError {
  return new CellRuleError(`${quoted(text)} does not fit numeric(${precision},${scale})`);
}

/**
 * The same value and rules as {@link parseDecimal}, as the unscaled integer the Parquet DECIMAL
 * column holds: `"19.99"` → 1999 at scale 2. A number while it is exact in a double (15 digits),
 * a bigint beyond; a bigint is made only there, so a row of money allocates nothing.
 */
export function parseUnscaledDecimal(raw: string, scale: number, precision?: number): number | bigint {
  const length = raw.length;
  const negative = raw.charCodeAt(0) === MINUS;
  const wholeStart = negative ? 1 : 0;
  let at = wholeStart;
  while (at < length && isDigit(raw.charCodeAt(at))) at += 1;
  const wholeEnd = at;
  let fractionEnd = at;
  if (at < length) {
    if (raw.charCodeAt(at) !== DOT) throw new CellRuleError(`${quoted(raw)} is not a decimal`);
    at += 1;
    while (at < length && isDigit(raw.charCodeAt(at))) at += 1;
    fractionEnd = at;
    if (fractionEnd === wholeEnd + 1) throw new CellRuleError(`${quoted(raw)} is not a decimal`);
  }
  if (wholeEnd === wholeStart || at !== length) throw new CellRuleError(`${quoted(raw)} is not a decimal`);
  const fractionStart = fractionEnd === wholeEnd ? wholeEnd : wholeEnd + 1;
  const fractionDigits = fractionEnd - fractionStart;
  for (let index = fractionStart + scale; index < fractionEnd; index += 1) {
    if (raw.charCodeAt(index) !== ZERO) {
      throw new CellRuleError(`${quoted(raw)} has more than ${scale} decimal places (it would have to be rounded)`);
    }
  }
  let significantStart = wholeStart;
  while (significantStart < wholeEnd - 1 && raw.charCodeAt(significantStart) === ZERO) significantStart += 1;
  if (precision !== undefined && wholeEnd - significantStart > precision - scale) throw doesNotFit(raw, scale, precision);
  const kept = Math.min(fractionDigits, scale);
  if (wholeEnd - significantStart + scale > SAFE_DECIMAL_DIGITS) {
    const digits = raw.slice(significantStart, wholeEnd) + raw.slice(fractionStart, fractionStart + kept).padEnd(scale, '0');
    const unscaled = BigInt(digits);
    return negative ? -unscaled : unscaled;
  }
  let unscaled = 0;
  for (let index = significantStart; index < wholeEnd; index += 1) unscaled = unscaled * 10 + (raw.charCodeAt(index) - ZERO);
  for (let index = 0; index < scale; index += 1) {
    unscaled = unscaled * 10 + (index < kept ? raw.charCodeAt(fractionStart + index) - ZERO : 0);
  }
  // -0 is zero to BigInt, as "-0.00" is "0.00" to parseDecimal.
  return negative ? -unscaled : unscaled;
}

/**
 * The rule {@link parseDecimal} applies with a precision, on an unscaled value: at most
 * `precision - scale` whole digits, i.e. below 10^precision. The message quotes the canonical text.
 */
export function checkUnscaledPrecision(unscaled: number | bigint, scale: number, precision: number): void {
  const fits = typeof unscaled === 'bigint' ? (unscaled < 0n ? -unscaled : unscaled) < 10n ** BigInt(precision) : Math.abs(unscaled) < 10 ** precision;
  if (!fits) throw doesNotFit(unscaledToCanonical(unscaled, scale), scale, precision);
}

/** The canonical text of an unscaled value, as parseDecimal would have returned it. */
function unscaledToCanonical(unscaled: number | bigint, scale: number): string {
  const value = BigInt(unscaled);
  const digits = (value < 0n ? -value : value).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  return `${value < 0n ? '-' : ''}${whole}${scale > 0 ? `.${digits.slice(digits.length - scale)}` : ''}`;
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= ZERO + 9;
}

/** A timestamp's physical Parquet values: its date and its time of day. */
export interface TimestampParts {
  /** Days since 1970-01-01. */
  days: number;
  /** Microseconds since midnight: below 86,400,000,000, so exact in a double. */
  micros: number;
}

/**
 * A source timestamp (`^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$`),
 * validated as a real date and time, into `parts`. Returns the number of fraction digits.
 */
function scanTimestamp(raw: string, parts: TimestampParts): number {
  const length = raw.length;
  if (
    length < 19 || length === 20 || length > 26 || !datePrefix(raw, scratchDate) ||
    raw.charCodeAt(10) !== SPACE || raw.charCodeAt(13) !== COLON || raw.charCodeAt(16) !== COLON ||
    (length > 19 && raw.charCodeAt(19) !== DOT)
  ) {
    throw new CellRuleError(`${quoted(raw)} is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff])`);
  }
  const hours = digitsAt(raw, 11, 2);
  const minutes = digitsAt(raw, 14, 2);
  const seconds = digitsAt(raw, 17, 2);
  const fractionDigits = length > 19 ? length - 20 : 0;
  const fraction = fractionDigits > 0 ? digitsAt(raw, 20, fractionDigits) : 0;
  if (hours < 0 || minutes < 0 || seconds < 0 || fraction < 0) {
    throw new CellRuleError(`${quoted(raw)} is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff])`);
  }
  const { year, month, day } = scratchDate;
  if (!isCalendarDate(year, month, day) || hours > 23 || minutes > 59 || seconds > 59) {
    throw new CellRuleError(`${quoted(raw)} is not a valid timestamp`);
  }
  parts.days = daysFromCivil(year, month, day);
  parts.micros = ((hours * 60 + minutes) * 60 + seconds) * MICROS_PER_SECOND + fraction * FRACTION_SCALE[fractionDigits]!;
  return fractionDigits;
}

const scratchTimestamp: TimestampParts = { days: 0, micros: 0 };

/** A source timestamp, validated as a real date and time and normalised to microseconds. */
export function parseTimestamp(raw: string): string {
  const fractionDigits = scanTimestamp(raw, scratchTimestamp);
  return fractionDigits === 6 ? raw : raw + FRACTION_PADDING[fractionDigits]!;
}

/**
 * The same rules as {@link parseTimestamp}, straight to the physical values of the warehouse's
 * date and time columns, written into `parts` (the caller's, reused for every row).
 */
export function parseTimestampParts(raw: string, parts: TimestampParts): void {
  scanTimestamp(raw, parts);
}

/** `^(\d{4})-(\d{2})-(\d{2})$` naming a day that exists, as days since 1970-01-01. */
function scanDateText(raw: string): number {
  if (raw.length !== 10 || !datePrefix(raw, scratchDate) || !isCalendarDate(scratchDate.year, scratchDate.month, scratchDate.day)) {
    throw new CellRuleError(`${quoted(raw)} is not a valid date (expected a real calendar date YYYY-MM-DD)`);
  }
  return daysFromCivil(scratchDate.year, scratchDate.month, scratchDate.day);
}

/** A `YYYY-MM-DD` held in a varchar, validated as a day that exists. */
export function parseDateText(raw: string): string {
  scanDateText(raw);
  return raw;
}

/** The same rules as {@link parseDateText}, as the Parquet DATE value: days since 1970-01-01. */
export function parseDateTextDays(raw: string): number {
  return scanDateText(raw);
}

export function parseBoolean(raw: string): boolean {
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

export function parseText(raw: string, maxLength: number | undefined): string {
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
