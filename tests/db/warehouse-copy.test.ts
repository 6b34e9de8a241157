import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { csvField, csvLine, csvRows, csvStream } from '../../src/db/warehouse-copy';
import { int, nullableText } from '../../src/schemas/columns';
import type { Row } from '../../src/schemas/rows';
import { dimLocation, fileColumns } from '../../src/schemas/warehouse';
import { rowBatchesOf } from '../../src/stages/load';

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

describe('csvRows', () => {
  const columns = [int('n'), nullableText('s'), { ...int('x'), nullable: true }];
  const rows: Row[] = [
    { n: 0, s: '', x: null },
    { n: -2_147_483_648, s: null, x: 2_147_483_647 },
    { n: 10, s: 'Flat "A", 1\nHigh St', x: 100 },
    { n: -7, s: '\\.', x: 1.5 },
    { n: 42, s: 'Zürich "Ö" – 東京 🎒', x: -0 },
    { n: 1_000_000, s: '""', x: 2 ** 53 },
    { n: 99, s: 'a', x: -3_000_000_000 },
  ];

  it('writes the bytes csvLine writes, row by row, whatever the characters', () => {
    // prepare
    const batch = { rowCount: rows.length, values: columns.map((column) => rows.map((row) => row[column.name])) };

    // act
    const bytes = csvRows(batch);

    // assert
    expect(bytes.toString('utf8')).toBe(rows.map((row) => csvLine(columns, row)).join(''));
  });

  it('streams every batch in order and refuses a non-finite number', async () => {
    // prepare
    const received: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        received.push(chunk);
        done();
      },
    });
    const twoBatches = (async function* () {
      yield* rowBatchesOf(columns, rows.slice(0, 3));
      yield* rowBatchesOf(columns, rows.slice(3));
    })();

    // act
    await pipeline(csvStream(twoBatches), sink);

    // assert
    expect(Buffer.concat(received).toString('utf8')).toBe(rows.map((row) => csvLine(columns, row)).join(''));
    expect(() => csvRows({ rowCount: 1, values: [[Number.POSITIVE_INFINITY]] })).toThrow(/Infinity/);
  });
});
