import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dateToDays, timeToMicros } from '../../../src/parquet/codec';
import { money, nullableText, text } from '../../../src/schemas/columns';
import { PgCsvRecordReader, type PgCsvRecord } from '../../../src/stages/transform/pg-csv';
import {
  CellRuleError, checkUnscaledPrecision, isCalendarDate, parseCell, parseCellAt, parseDateText, parseDateTextDays, parseDecimal,
  parseTimestamp, parseTimestampParts, parseUnscaledDecimal, parseUnscaledDecimalAt,
} from '../../../src/stages/transform/values';

describe('cell validation', () => {
  it('keeps money exact and canonical, never through a float', () => {
    expect(parseDecimal('19.99', 2)).toBe('19.99');
    expect(parseDecimal('3.5', 2)).toBe('3.50');
    expect(parseDecimal('007', 2)).toBe('7.00');
    expect(parseDecimal('-0.5', 2)).toBe('-0.50');
    expect(parseDecimal('-0.00', 2)).toBe('0.00');
    expect(parseDecimal('3.9400', 2)).toBe('3.94');
    expect(parseDecimal('90071992547409.93', 2)).toBe('90071992547409.93');
  });

  it('rejects a decimal that would need rounding, or does not fit its precision', () => {
    expect(() => parseDecimal('1.999', 2)).toThrow(/more than 2 decimal places/);
    expect(() => parseDecimal('123456789.00', 2, 10)).toThrow(/does not fit numeric\(10,2\)/);
    expect(parseDecimal('12345678.99', 2, 10)).toBe('12345678.99');
    for (const bad of ['abc', '', '1e3', 'NaN', '.5', '1.', '1,5', ' 1']) expect(() => parseDecimal(bad, 2), bad).toThrow(/is not a decimal/);
  });

  it('accepts only real calendar dates', () => {
    expect(parseDateText('2024-02-29')).toBe('2024-02-29');
    for (const bad of ['2024-02-30', '2023-02-29', '2024-13-01', '2024-00-10', '2024-1-01', '2024-01-01 00:00']) {
      expect(() => parseDateText(bad), bad).toThrow(/is not a valid date/);
    }
  });

  it('normalises timestamps to microseconds and rejects impossible ones', () => {
    expect(parseTimestamp('2022-11-03 14:20:49.962')).toBe('2022-11-03 14:20:49.962000');
    expect(parseTimestamp('2022-11-03 14:20:49')).toBe('2022-11-03 14:20:49.000000');
    expect(() => parseTimestamp('2022-11-03 24:00:00')).toThrow(/not a valid timestamp/);
    expect(() => parseTimestamp('2022-11-31 10:00:00')).toThrow(/not a valid timestamp/);
    expect(() => parseTimestamp('2022-11-03T14:20:49')).toThrow(/is not a timestamp/);
  });

  it('tells NULL from the empty string and enforces NOT NULL', () => {
    expect(parseCell(nullableText('district'), null)).toBeNull();
    expect(parseCell(nullableText('district'), '')).toBe('');
    expect(parseCell(text('city'), '')).toBe('');
    expect(() => parseCell(text('city'), null)).toThrow(CellRuleError);
    expect(() => parseCell(money('unit_price'), null)).toThrow(/NULL in a NOT NULL column/);
  });

  it('counts varchar(n) in characters, so an emoji is one', () => {
    const code = text('currency_code', 3);
    expect(parseCell(code, '💷💶💵')).toBe('💷💶💵');
    expect(() => parseCell(code, 'GBPX')).toThrow(/longer than varchar\(3\)/);
  });

  it('parses PostgreSQL booleans and 32-bit integers', () => {
    const paid = { name: 'paid', type: { kind: 'boolean' }, nullable: false } as const;
    expect([parseCell(paid, 't'), parseCell(paid, 'false')]).toEqual([true, false]);
    expect(() => parseCell(paid, 'yes')).toThrow(/is not a boolean/);
    const id = { name: 'id', type: { kind: 'int' }, nullable: false } as const;
    expect(parseCell(id, '-2147483648')).toBe(-2147483648);
    expect(() => parseCell(id, '2147483648')).toThrow(/out of range/);
    expect(() => parseCell(id, '1.0')).toThrow(/is not an integer/);
  });
});

/**
 * The regular expressions the hand-written scanners replaced, kept here as oracles: whatever
 * string comes in, the scanners must accept, normalise and reject exactly as these did.
 */
const oracle = {
  timestamp(raw: string): string {
    const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/.exec(raw);
    if (!match) throw new CellRuleError(`${JSON.stringify(raw)} is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff])`);
    const [, y, mo, d, h, mi, s, fraction = ''] = match;
    if (!isCalendarDate(Number(y), Number(mo), Number(d)) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
      throw new CellRuleError(`${JSON.stringify(raw)} is not a valid timestamp`);
    }
    return `${y}-${mo}-${d} ${h}:${mi}:${s}.${fraction.padEnd(6, '0')}`;
  },
  int32(raw: string): number {
    if (!/^-?\d+$/.test(raw)) throw new CellRuleError(`${JSON.stringify(raw)} is not an integer`);
    const value = Number(raw);
    if (value < -2147483648 || value > 2147483647) throw new CellRuleError(`${JSON.stringify(raw)} is out of range for a 32-bit integer`);
    return value;
  },
};

/** The outcome of a parse: its value, or the message it was rejected with. */
function outcome<T>(parse: () => T): { value: T } | { error: string } {
  try {
    return { value: parse() };
  } catch (error) {
    if (!(error instanceof CellRuleError)) throw error;
    return { error: error.message };
  }
}

/** Strings near a shape: its characters, mostly the right ones, sometimes any other. */
const near = (shape: string) =>
  fc.tuple(...[...shape].map((char) => fc.oneof(
    { weight: 8, arbitrary: char === 'd' ? fc.integer({ min: 0, max: 9 }).map(String) : fc.constant(char) },
    { weight: 1, arbitrary: fc.constantFrom('', '0', '9', '-', ' ', ':', '.', 'x', '٣', '00') },
  ))).map((chars) => chars.join(''));

/** Real timestamps from year 1 to 9999, with 0 to 6 fraction digits. */
const validTimestamps = fc.tuple(
  fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
  fc.stringMatching(/^(\.\d{1,6})?$/),
).map(([date, fraction]) => `${date.toISOString().slice(0, 19).replace('T', ' ')}${fraction}`);

const timestampStrings = fc.oneof(
  near('dddd-dd-dd dd:dd:dd'),
  near('dddd-dd-dd dd:dd:dd.ddd'),
  near('dddd-dd-dd dd:dd:dd.dddddd'),
  fc.string({ maxLength: 30 }),
);

describe('the hand-written scanners', () => {
  it('accept, normalise and reject timestamps exactly as the regular expression did', () => {
    fc.assert(fc.property(fc.oneof(timestampStrings, validTimestamps), (raw) => {
      expect(outcome(() => parseTimestamp(raw))).toEqual(outcome(() => oracle.timestamp(raw)));
    }), { numRuns: 5000 });
  });

  it('split a timestamp into the days of its date and the microseconds of its time, as the Parquet columns hold them', () => {
    const parts = { days: 0, micros: 0 };
    parseTimestampParts('2022-11-03 14:20:49.962', parts);
    expect(parts).toEqual({ days: Date.UTC(2022, 10, 3) / 86_400_000, micros: ((14 * 60 + 20) * 60 + 49) * 1e6 + 962_000 });
    parseTimestampParts('1969-12-31 23:59:59.999999', parts);
    expect(parts).toEqual({ days: -1, micros: 86_399_999_999 });
    // Date.UTC moves years below 100 to the 1900s; the calendar does not.
    parseTimestampParts('0001-01-01 00:00:00', parts);
    expect(parts).toEqual({ days: -719_162, micros: 0 });
    expect(() => parseTimestampParts('2023-02-29 10:00:00', parts)).toThrow(/is not a valid timestamp/);

    fc.assert(fc.property(fc.oneof(timestampStrings, validTimestamps), (raw) => {
      const normalised = outcome(() => oracle.timestamp(raw));
      const result = outcome(() => {
        parseTimestampParts(raw, parts);
        return { ...parts };
      });
      if ('error' in normalised) {
        expect(result).toEqual(normalised);
        return;
      }
      const [date, time] = normalised.value.split(' ') as [string, string];
      const [hours, minutes, seconds] = time.split(':').map((part) => Number(part.replace('.', ''))) as [number, number, number];
      const micros = (hours * 60 + minutes) * 60 * 1e6 + seconds;
      // Date.UTC is an independent reference from year 100 on; below, it moves the year to the 1900s.
      const year = Number(date.slice(0, 4));
      const days = year >= 100 ? Date.UTC(year, Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / 86_400_000 : dateToDays(date);
      expect(result).toEqual({ value: { days, micros } });
      expect([dateToDays(date), timeToMicros(time)]).toEqual([days, micros]);
    }), { numRuns: 5000 });
  });

  it('read calendar dates to days', () => {
    expect(parseDateTextDays('2024-02-29')).toBe(Date.UTC(2024, 1, 29) / 86_400_000);
    expect(parseDateTextDays('1970-01-01')).toBe(0);
    for (const bad of ['2024-02-30', '2024-1-01', '2024-01-01 ', '٢٠٢٤-01-01']) expect(() => parseDateTextDays(bad), bad).toThrow(/is not a valid date/);
  });

  it('accept and reject 32-bit integers exactly as the regular expression did', () => {
    const id = { name: 'id', type: { kind: 'int' }, nullable: false } as const;
    const integers = fc.oneof(fc.integer().map(String), fc.bigInt().map(String), near('-dddddddddd'), fc.string({ maxLength: 12 }));
    fc.assert(fc.property(integers, (raw) => {
      expect(outcome(() => parseCell(id, raw))).toEqual(outcome(() => oracle.int32(raw)));
    }), { numRuns: 5000 });
  });

  it('turn money into the same unscaled integer as the canonical text, with the same rules and messages', () => {
    const money = fc.oneof(
      fc.tuple(fc.boolean(), fc.stringMatching(/^\d{1,20}$/), fc.option(fc.stringMatching(/^\d{1,5}$/))).map(([minus, whole, fraction]) => `${minus ? '-' : ''}${whole}${fraction === null ? '' : `.${fraction}`}`),
      near('-ddd.dd'),
      fc.string({ maxLength: 10 }),
    );
    fc.assert(fc.property(money, fc.constantFrom(undefined, 10, 18), (raw, precision) => {
      const canonical = outcome(() => parseDecimal(raw, 2, precision));
      const unscaled = outcome(() => BigInt(parseUnscaledDecimal(raw, 2, precision)));
      expect(unscaled).toEqual('error' in canonical ? canonical : { value: BigInt(canonical.value.replace('.', '')) });
    }), { numRuns: 5000 });
    expect(parseUnscaledDecimal('19.99', 2)).toBe(1999);
    expect(parseUnscaledDecimal('-123456789012345.67', 2)).toBe(-12345678901234567n);
  });

  it('bound unscaled money by a precision with the message parseDecimal gives its canonical text', () => {
    for (const raw of ['123456789.00', '0099999999.990', '-123456789', '12345678.99', '99999999.99', '9999999999999999999.99']) {
      const unscaled = parseUnscaledDecimal(raw, 2);
      const canonical = parseDecimal(raw, 2);
      const bounded = outcome(() => checkUnscaledPrecision(unscaled, 2, 10));
      const reference = outcome(() => parseDecimal(canonical, 2, 10));
      expect('error' in bounded ? bounded : 'fits', raw).toEqual('error' in reference ? reference : 'fits');
    }
  });
});

describe('cells read from the bytes of a record as read', () => {
  /** `raw` as the only field of a CSV line, quoted where PostgreSQL would, read in chunks cut at `cut`. */
  function readCell<T>(raw: string, cut: number, parse: (record: PgCsvRecord) => T): Array<{ value: T } | { error: string }> {
    const field = raw === '' || /[",\r\n]/.test(raw) ? `"${raw.replaceAll('"', '""')}"` : raw;
    const bytes = Buffer.from(`${field}\n`);
    const at = Math.min(cut, bytes.length);
    const outcomes: Array<{ value: T } | { error: string }> = [];
    const reader = new PgCsvRecordReader((record) => outcomes.push(outcome(() => parse(record))));
    reader.push(bytes.subarray(0, at));
    reader.push(bytes.subarray(at));
    reader.end();
    return outcomes;
  }

  const cuts = fc.nat({ max: 40 });
  const columns = [
    { name: 'id', type: { kind: 'int' }, nullable: false },
    { name: 'at', type: { kind: 'timestamp' }, nullable: false },
    { name: 'day', type: { kind: 'dateText' }, nullable: false },
    { name: 'paid', type: { kind: 'boolean' }, nullable: false },
    { name: 'price', type: { kind: 'decimal', scale: 2 }, nullable: false },
  ] as const;
  const cells = fc.oneof(timestampStrings, validTimestamps, near('dddd-dd-dd'), near('-ddd.dd'), fc.integer().map(String), fc.constantFrom('t', 'f', 'true', 'false', 'T', ''), fc.string({ maxLength: 12 }));

  it('validate and convert exactly as from the text, whether the cell lies in one chunk or across two', () => {
    fc.assert(fc.property(cells, cuts, fc.constantFrom(...columns), (raw, cut, column) => {
      expect(readCell(raw, cut, (record) => parseCellAt(column, record, 0))).toEqual([outcome(() => parseCell(column, raw))]);
    }), { numRuns: 5000 });
  });

  it('turn money into the same unscaled integer from the bytes', () => {
    fc.assert(fc.property(fc.oneof(near('-ddd.ddd'), fc.string({ maxLength: 8 })), cuts, (raw, cut) => {
      const fromBytes = readCell(raw, cut, (record) => BigInt(parseUnscaledDecimalAt(record, 0, 2)));
      expect(fromBytes).toEqual([outcome(() => BigInt(parseDecimal(raw, 2).replace('.', '')))]);
    }), { numRuns: 3000 });
  });
});
