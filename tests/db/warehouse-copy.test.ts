import { describe, expect, it } from 'vitest';
import { csvField, csvLine } from '../../src/db/warehouse-copy';
import { dimLocation, fileColumns } from '../../src/schemas/warehouse';

describe('csvField', () => {
  it('writes NULL as an unquoted empty field and the empty string quoted', () => {
    // prepare / act / assert
    expect(csvField(null)).toBe('');
    expect(csvField('')).toBe('""');
  });

  it('quotes text and doubles embedded quotes, keeping commas, newlines and a lone \\. as data', () => {
    // prepare / act / assert
    expect(csvField('Flat "A", 1\nHigh St')).toBe('"Flat ""A"", 1\nHigh St"');
    expect(csvField('\\.')).toBe('"\\."');
  });

  it('writes numbers and booleans the way COPY reads them, and refuses a non-finite number', () => {
    // prepare / act / assert
    expect(csvField(-42)).toBe('-42');
    expect(csvField(true)).toBe('t');
    expect(csvField(false)).toBe('f');
    expect(() => csvField(Number.NaN)).toThrow(/NaN/);
  });
});

describe('csvLine', () => {
  it('writes the columns in schema order whatever the key order of the row', () => {
    // prepare
    const row = { phone: '0', country: 'UK', postal_code: 'LS1', city: 'Leeds', district: null, address_line_2: '', address_line_1: '1 Road', location_id: 3 };

    // act
    const line = csvLine(fileColumns(dimLocation), row);

    // assert
    expect(line).toBe('3,"1 Road","",,"Leeds","LS1","UK","0"\n');
  });
});
