/**
 * Value helpers for seeding: timestamps as epoch milliseconds (the source's precision) and money
 * as integer cents, so no price ever passes through float arithmetic.
 */

const timestampPattern = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
const decimalPattern = /^(-?)(\d+)(?:\.(\d+))?$/;

/** Parses a source timestamp (`YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC) to epoch milliseconds; sub-millisecond digits are dropped. */
export function timestampToMillis(value: string): number | undefined {
  const match = timestampPattern.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction = ''] = match;
  const millis = Number(fraction.padEnd(3, '0').slice(0, 3));
  const epoch = Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second), millis);
  // Date.UTC rolls 2024-02-30 over into March; a real calendar value survives the round trip.
  return millisToTimestamp(epoch).slice(0, 19) === value.slice(0, 19) ? epoch : undefined;
}

/** Formats epoch milliseconds the way the source shows them: `YYYY-MM-DD HH:MM:SS.fff000`. */
export function millisToTimestamp(epochMillis: number): string {
  const iso = new Date(epochMillis).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}

/** The calendar date (`YYYY-MM-DD`) of epoch milliseconds plus whole days. */
export function dateAfter(epochMillis: number, days: number): string {
  return new Date(epochMillis + days * 86_400_000).toISOString().slice(0, 10);
}

export function isCalendarDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const epoch = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(epoch) && new Date(epoch).toISOString().slice(0, 10) === value;
}

/**
 * Reads a money value given as a JSON string ("3.94") or number (3.94) into integer cents. A number
 * is read through its shortest decimal rendering, which is the literal it was written as, so 3.94
 * is 394 cents and never 393.99999. More than two fractional digits is refused, never rounded.
 */
export function moneyToCents(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  if (typeof value === 'number' && !Number.isFinite(value)) return undefined;
  const match = decimalPattern.exec(String(value).trim());
  if (!match) return undefined;
  const [, sign, whole = '', fraction = ''] = match;
  if (fraction.length > 2) return undefined;
  const cents = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  if (!Number.isSafeInteger(cents)) return undefined;
  return sign === '-' ? -cents : cents;
}

/** Canonical decimal text with exactly two digits, as rows.ts carries money. */
export function centsToMoney(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const absolute = Math.abs(cents);
  return `${sign}${Math.floor(absolute / 100)}.${String(absolute % 100).padStart(2, '0')}`;
}
