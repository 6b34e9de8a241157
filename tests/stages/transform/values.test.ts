import { describe, expect, it } from 'vitest';
import { money, nullableText, text } from '../../../src/schemas/columns';
import { CellRuleError, parseCell, parseDateText, parseDecimal, parseTimestamp } from '../../../src/stages/transform/values';

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
