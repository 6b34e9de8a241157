import { daysFromCivil, FRACTION_SCALE } from '../../parquet/codec';
import type { ColumnDef } from '../../schemas/columns';
import type { CellValue } from '../../schemas/rows';

/**
 * Validation of one CSV cell against its source column. A failure is a {@link CellRuleError}
 * carrying only the broken rule; the CSV reader adds the object key, line and column around it.
 *
 * Each rule is written once, over the cell's bytes: the transform reads numbers, dates and
 * timestamps straight from the CSV chunk (see pg-csv.ts), with no string made for them. The
 * `…At(fields, field)` functions take a cell of a record as read; the `parse…(raw)` ones are the
 * same rules on a string. Results are either the representation of src/schemas/rows.ts
 * ({@link parseCellAt}) or the physical Parquet values a fact column holds (days, microseconds,
 * unscaled money).
 */
export class CellRuleError extends Error {}

/** Where cells are: the fields of a record as read (pg-csv.ts's PgCsvRecord), or one string. */
export interface CellFields {
  isNull(field: number): boolean;
  /** The cell's text; `null` for NULL. */
  text(field: number): string | null;
  /** The bytes holding the cell (not NULL), from `start(field)` to `end(field)`. */
  bytes(field: number): Uint8Array;
  start(field: number): number;
  end(field: number): number;
}

/** A string as the only cell of a record, for the string API. */
class OneCell implements CellFields {
  private encoded: Buffer | undefined;

  constructor(private readonly value: string) {}

  isNull(): boolean {
    return false;
  }

  text(): string {
    return this.value;
  }

  bytes(): Buffer {
    this.encoded ??= Buffer.from(this.value, 'utf8');
    return this.encoded;
  }

  start(): number {
    return 0;
  }

  end(): number {
    return this.bytes().length;
  }
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const decimalPattern = /^(-?)(\d+)(?:\.(\d+))?$/;

const ZERO = 0x30;
const MINUS = 0x2d;
const DOT = 0x2e;
const COLON = 0x3a;
const SPACE = 0x20;
const MICROS_PER_SECOND = 1_000_000;
/** What a fraction of n digits lacks to be microseconds (index n). */
const FRACTION_PADDING = ['.000000', '00000', '0000', '000', '00', '0', ''];
/** Digits an unscaled decimal may have and still be exact in a double (< 2^53). */
const SAFE_DECIMAL_DIGITS = 15;

function quoted(raw: string | null): string {
  const text = raw ?? '';
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text);
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

// ---------------------------------------------------------------------------------------------
// The scanners: they read bytes in place and build no match arrays or substrings (they replaced
// regular expressions that ran several times per row). Each accepts exactly what the pattern in
// its comment accepts (JavaScript's `\d` is ASCII 0-9 only, and a multi-byte character's bytes
// are all above 0x7f, so they match nothing here either).

/** The value of `count` ASCII digits at `at`, or -1 when any of them is not a digit. */
function digitsAt(bytes: Uint8Array, at: number, count: number): number {
  let value = 0;
  for (let index = at; index < at + count; index += 1) {
    const digit = bytes[index]! - ZERO;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/** Scratch for the scanners: they run synchronously, one cell at a time. */
const scratchDate = { year: 0, month: 0, day: 0 };

/** `(\d{4})-(\d{2})-(\d{2})` at `at` (the caller checks the length), into {@link scratchDate}. */
function datePrefix(bytes: Uint8Array, at: number): boolean {
  if (bytes[at + 4] !== MINUS || bytes[at + 7] !== MINUS) return false;
  scratchDate.year = digitsAt(bytes, at, 4);
  scratchDate.month = digitsAt(bytes, at + 5, 2);
  scratchDate.day = digitsAt(bytes, at + 8, 2);
  return scratchDate.year >= 0 && scratchDate.month >= 0 && scratchDate.day >= 0;
}

/** `^-?\d+$`: its value (-0 for "-0", as `Number` makes it; written as 0), or NaN. */
function scanInteger(bytes: Uint8Array, start: number, end: number): number {
  const negative = bytes[start] === MINUS;
  let at = negative ? start + 1 : start;
  if (at >= end) return Number.NaN;
  let value = 0;
  for (; at < end; at += 1) {
    const digit = bytes[at]! - ZERO;
    if (digit < 0 || digit > 9) return Number.NaN;
    // Past 2^31 the value is rejected whatever follows, so rounding beyond 2^53 is harmless.
    value = value * 10 + digit;
  }
  return negative ? -value : value;
}

/** A timestamp's physical Parquet values: its date and its time of day. */
export interface TimestampParts {
  /** Days since 1970-01-01. */
  days: number;
  /** Microseconds since midnight: below 86,400,000,000, so exact in a double. */
  micros: number;
}

const NOT_A_TIMESTAMP = -1;
const NOT_A_VALID_TIMESTAMP = -2;

/**
 * `^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$`, a real date and time, into
 * `parts`. Returns the number of fraction digits, or NOT_A_TIMESTAMP / NOT_A_VALID_TIMESTAMP.
 */
function scanTimestamp(bytes: Uint8Array, start: number, end: number, parts: TimestampParts): number {
  const length = end - start;
  if (
    length < 19 || length === 20 || length > 26 || !datePrefix(bytes, start) ||
    bytes[start + 10] !== SPACE || bytes[start + 13] !== COLON || bytes[start + 16] !== COLON ||
    (length > 19 && bytes[start + 19] !== DOT)
  ) {
    return NOT_A_TIMESTAMP;
  }
  const hours = digitsAt(bytes, start + 11, 2);
  const minutes = digitsAt(bytes, start + 14, 2);
  const seconds = digitsAt(bytes, start + 17, 2);
  const fractionDigits = length > 19 ? length - 20 : 0;
  const fraction = fractionDigits > 0 ? digitsAt(bytes, start + 20, fractionDigits) : 0;
  if (hours < 0 || minutes < 0 || seconds < 0 || fraction < 0) return NOT_A_TIMESTAMP;
  const { year, month, day } = scratchDate;
  if (!isCalendarDate(year, month, day) || hours > 23 || minutes > 59 || seconds > 59) return NOT_A_VALID_TIMESTAMP;
  parts.days = daysFromCivil(year, month, day);
  parts.micros = ((hours * 60 + minutes) * 60 + seconds) * MICROS_PER_SECOND + fraction * FRACTION_SCALE[fractionDigits]!;
  return fractionDigits;
}

/** `^(\d{4})-(\d{2})-(\d{2})$` naming a day that exists: days since 1970-01-01, or NaN. */
function scanDate(bytes: Uint8Array, start: number, end: number): number {
  if (end - start !== 10 || !datePrefix(bytes, start) || !isCalendarDate(scratchDate.year, scratchDate.month, scratchDate.day)) return Number.NaN;
  return daysFromCivil(scratchDate.year, scratchDate.month, scratchDate.day);
}

function isDigit(byte: number): boolean {
  return byte >= ZERO && byte <= ZERO + 9;
}

/** Why {@link scanUnscaled} last returned NaN. */
let decimalProblem: 'shape' | 'rounding' | 'precision' = 'shape';

/**
 * `^(-?)(\d+)(?:\.(\d+))?$` with no nonzero digit beyond `scale` and, given a precision, at most
 * `precision - scale` whole digits (leading zeros aside): the unscaled integer (`19.99` → 1999 at
 * scale 2) as a number while it is exact in a double (15 digits), else a bigint. NaN on failure,
 * with the reason in {@link decimalProblem}.
 */
function scanUnscaled(bytes: Uint8Array, start: number, end: number, scale: number, precision: number | undefined): number | bigint {
  const negative = bytes[start] === MINUS;
  const wholeStart = negative ? start + 1 : start;
  let at = wholeStart;
  while (at < end && isDigit(bytes[at]!)) at += 1;
  const wholeEnd = at;
  let fractionStart = at;
  if (at < end) {
    if (bytes[at] !== DOT) return failDecimal('shape');
    at += 1;
    fractionStart = at;
    while (at < end && isDigit(bytes[at]!)) at += 1;
    if (at === fractionStart) return failDecimal('shape');
  }
  if (wholeEnd === wholeStart || at !== end) return failDecimal('shape');
  const fractionEnd = at;
  for (let index = fractionStart + scale; index < fractionEnd; index += 1) {
    if (bytes[index] !== ZERO) return failDecimal('rounding');
  }
  let significant = wholeStart;
  while (significant < wholeEnd - 1 && bytes[significant] === ZERO) significant += 1;
  if (precision !== undefined && wholeEnd - significant > precision - scale) return failDecimal('precision');
  const kept = Math.min(fractionEnd - fractionStart, scale);
  if (wholeEnd - significant + scale > SAFE_DECIMAL_DIGITS) {
    let digits = '';
    for (let index = significant; index < wholeEnd; index += 1) digits += String.fromCharCode(bytes[index]!);
    for (let index = 0; index < scale; index += 1) digits += index < kept ? String.fromCharCode(bytes[fractionStart + index]!) : '0';
    const unscaled = BigInt(digits);
    return negative ? -unscaled : unscaled;
  }
  let unscaled = 0;
  for (let index = significant; index < wholeEnd; index += 1) unscaled = unscaled * 10 + (bytes[index]! - ZERO);
  for (let index = 0; index < scale; index += 1) unscaled = unscaled * 10 + (index < kept ? bytes[fractionStart + index]! - ZERO : 0);
  // -0 is zero to BigInt, as "-0.00" is "0.00" to parseDecimal.
  return negative ? -unscaled : unscaled;
}

function failDecimal(problem: typeof decimalProblem): number {
  decimalProblem = problem;
  return Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// The rules on a cell of a record. The text for a message is decoded only on failure.

/** `^-?\d+$` within the 32-bit range. */
export function parseInt32At(fields: CellFields, field: number): number {
  const value = scanInteger(fields.bytes(field), fields.start(field), fields.end(field));
  if (Number.isNaN(value)) throw new CellRuleError(`${quoted(fields.text(field))} is not an integer`);
  if (value < INT32_MIN || value > INT32_MAX) throw new CellRuleError(`${quoted(fields.text(field))} is out of range for a 32-bit integer`);
  return value;
}

/** A source timestamp, validated as a real date and time, into `parts`; returns its fraction digits. */
export function parseTimestampPartsAt(fields: CellFields, field: number, parts: TimestampParts): number {
  const fractionDigits = scanTimestamp(fields.bytes(field), fields.start(field), fields.end(field), parts);
  if (fractionDigits === NOT_A_TIMESTAMP) {
    throw new CellRuleError(`${quoted(fields.text(field))} is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff])`);
  }
  if (fractionDigits === NOT_A_VALID_TIMESTAMP) throw new CellRuleError(`${quoted(fields.text(field))} is not a valid timestamp`);
  return fractionDigits;
}

const scratchTimestamp: TimestampParts = { days: 0, micros: 0 };

/** A source timestamp, validated as a real date and time and normalised to microseconds. */
export function parseTimestampAt(fields: CellFields, field: number): string {
  const fractionDigits = parseTimestampPartsAt(fields, field, scratchTimestamp);
  const raw = fields.text(field) ?? '';
  return fractionDigits === 6 ? raw : raw + FRACTION_PADDING[fractionDigits]!;
}

/** A `YYYY-MM-DD` held in a varchar, validated as a day that exists: days since 1970-01-01. */
export function parseDateDaysAt(fields: CellFields, field: number): number {
  const days = scanDate(fields.bytes(field), fields.start(field), fields.end(field));
  if (Number.isNaN(days)) throw new CellRuleError(`${quoted(fields.text(field))} is not a valid date (expected a real calendar date YYYY-MM-DD)`);
  return days;
}

/**
 * The same value and rules as {@link parseDecimal}, as the unscaled integer a Parquet DECIMAL
 * column holds: a number while exact, a bigint beyond, so a row of money allocates nothing.
 */
export function parseUnscaledDecimalAt(fields: CellFields, field: number, scale: number, precision?: number): number | bigint {
  const unscaled = scanUnscaled(fields.bytes(field), fields.start(field), fields.end(field), scale, precision);
  if (typeof unscaled === 'number' && Number.isNaN(unscaled)) {
    const raw = quoted(fields.text(field));
    if (decimalProblem === 'rounding') throw new CellRuleError(`${raw} has more than ${scale} decimal places (it would have to be rounded)`);
    if (decimalProblem === 'precision') throw new CellRuleError(`${raw} does not fit numeric(${precision},${scale})`);
    throw new CellRuleError(`${raw} is not a decimal`);
  }
  return unscaled;
}

/** `t`, `f`, `true` or `false`. */
export function parseBooleanAt(fields: CellFields, field: number): boolean {
  const bytes = fields.bytes(field);
  const start = fields.start(field);
  const length = fields.end(field) - start;
  if (length === 1 && bytes[start] === 0x74) return true;
  if (length === 1 && bytes[start] === 0x66) return false;
  const text = fields.text(field);
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw new CellRuleError(`${quoted(text)} is not a boolean (expected t, f, true or false)`);
}

/** varchar(n) counts characters, not UTF-16 units: an emoji is one character to PostgreSQL. */
function characterCount(value: string): number {
  let count = 0;
  for (const _character of value) count += 1;
  return count;
}

export function parseTextAt(fields: CellFields, field: number, maxLength: number | undefined): string {
  const raw = fields.text(field) ?? '';
  if (maxLength !== undefined && raw.length > maxLength && characterCount(raw) > maxLength) {
    throw new CellRuleError(`${quoted(raw)} is longer than varchar(${maxLength})`);
  }
  return raw;
}

/**
 * One cell in the representation of src/schemas/rows.ts: `null` is SQL NULL (an unquoted empty
 * field in PostgreSQL CSV), `''` the empty string.
 */
export function parseCellAt(column: ColumnDef, fields: CellFields, field: number): CellValue {
  if (fields.isNull(field)) {
    if (!column.nullable) throw new CellRuleError('NULL in a NOT NULL column');
    return null;
  }
  const type = column.type;
  switch (type.kind) {
    case 'int':
      return parseInt32At(fields, field);
    case 'decimal':
      return parseDecimal(fields.text(field) ?? '', type.scale, type.precision);
    case 'timestamp':
      return parseTimestampAt(fields, field);
    case 'dateText':
      parseDateDaysAt(fields, field);
      return fields.text(field);
    case 'boolean':
      return parseBooleanAt(fields, field);
    case 'text':
      return parseTextAt(fields, field, type.maxLength);
    case 'date':
    case 'time':
    case 'identity':
      throw new CellRuleError(`column type ${type.kind} does not occur in source tables`);
  }
}

// ---------------------------------------------------------------------------------------------
// The same rules on strings.

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

export function parseInt32(raw: string): number {
  return parseInt32At(new OneCell(raw), 0);
}

export function parseUnscaledDecimal(raw: string, scale: number, precision?: number): number | bigint {
  return parseUnscaledDecimalAt(new OneCell(raw), 0, scale, precision);
}

export function parseTimestamp(raw: string): string {
  return parseTimestampAt(new OneCell(raw), 0);
}

export function parseTimestampParts(raw: string, parts: TimestampParts): void {
  parseTimestampPartsAt(new OneCell(raw), 0, parts);
}

export function parseDateText(raw: string): string {
  parseDateDaysAt(new OneCell(raw), 0);
  return raw;
}

export function parseDateTextDays(raw: string): number {
  return parseDateDaysAt(new OneCell(raw), 0);
}

export function parseCell(column: ColumnDef, raw: string | null): CellValue {
  if (raw === null) {
    if (!column.nullable) throw new CellRuleError('NULL in a NOT NULL column');
    return null;
  }
  return parseCellAt(column, new OneCell(raw), 0);
}
