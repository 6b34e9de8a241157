import { describe, expect, it } from 'vitest';
import { boolean, date, int, money, nullableText, text, time } from '../../../src/schemas/columns';
import { firstInvalidValue, valueProblem } from '../../../src/stages/load/validate-rows';

describe('valueProblem', () => {
  it('accepts values in the rows.ts representation', () => {
    // prepare / act / assert
    expect(valueProblem(int('id'), 2_147_483_647)).toBeNull();
    expect(valueProblem(money('price', 10), '99999999.99')).toBeNull();
    expect(valueProblem(money('price'), '-0.50')).toBeNull();
    expect(valueProblem(date('d'), '2024-02-29')).toBeNull();
    expect(valueProblem(time('t'), '23:59:59.999999')).toBeNull();
    expect(valueProblem(boolean('b'), false)).toBeNull();
    expect(valueProblem(nullableText('n'), null)).toBeNull();
    expect(valueProblem(text('s'), '')).toBeNull();
  });

  it('names what is wrong with a value that does not fit its column', () => {
    // prepare / act / assert
    expect(valueProblem(int('id'), 2_147_483_648)).toBe('2147483648 is not a 32-bit integer');
    expect(valueProblem(int('id'), 1.5)).toBe('1.5 is not a 32-bit integer');
    expect(valueProblem(money('price'), '1.999')).toBe('1.999 has more than 2 decimal places');
    expect(valueProblem(money('price', 10), '100000000.00')).toBe('100000000.00 does not fit numeric(10,2)');
    expect(valueProblem(date('d'), '2023-02-29')).toBe('"2023-02-29" is not a date YYYY-MM-DD');
    expect(valueProblem(time('t'), '24:00:00.000000')).toBe('"24:00:00.000000" is not a time HH:MM:SS.ffffff');
    expect(valueProblem(boolean('b'), 't')).toBe('"t" is not a boolean');
    expect(valueProblem(text('s'), null)).toBe('is NULL but the column is NOT NULL');
  });
});

describe('firstInvalidValue', () => {
  it('reports the first bad value with its 1-based row and column', () => {
    // prepare
    const columns = [int('id'), text('name')];
    const rows = [{ id: 1, name: 'a' }, { id: 2, name: null }, { id: 'x', name: 'c' }];

    // act
    const invalid = firstInvalidValue(columns, rows);

    // assert
    expect(invalid).toEqual({ row: 2, column: 'name', problem: 'is NULL but the column is NOT NULL' });
  });
});
