import { describe, expect, it } from 'vitest';
import { encodeParquet, microsToTime, unscaledToDecimal } from '../../../src/parquet/codec';
import { type DecodedKind, type DecodedRowGroup, type ExactIntegers, formatDay, openParquet } from '../../../src/parquet/decode';
import { type ColumnDef, boolean, date, int, money, nullableText, text, time } from '../../../src/schemas/columns';
import type { CellValue, Row } from '../../../src/schemas/rows';
import { type InvalidValue, createRowGroupValidator, firstInvalidValue, valueProblem } from '../../../src/stages/load/validate-rows';

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

describe('createRowGroupValidator', () => {
  // As the transform would write them, except that the file's name column allows NULL.
  const fileColumns: ColumnDef[] = [int('id'), nullableText('name'), money('price', 6), date('d'), time('t'), boolean('ok')];
  const columns: ColumnDef[] = [int('id'), text('name', 5), money('price', 6), date('d'), time('t'), boolean('ok')];
  const good = (id: number): Row => ({ id, name: `n${id}`, price: '9999.99', d: '2024-02-29', t: '23:59:59.999999', ok: id % 2 === 0 });

  /** Validates an encoded file row group by row group, as the load does. */
  async function firstInvalidInFile(rows: Row[], options: { rowGroupSize?: number; written?: ColumnDef[] } = {}): Promise<InvalidValue | null> {
    const validate = createRowGroupValidator(columns);
    const bytes = encodeParquet(options.written ?? fileColumns, rows, { rowGroupSize: options.rowGroupSize ?? 5 });
    for await (const group of openParquet(bytes).rowGroups()) {
      const invalid = validate(group);
      if (invalid) return invalid;
    }
    return null;
  }

  it('names a bad value in a later row group with its row number in the file', async () => {
    // prepare
    const rows = Array.from({ length: 12 }, (_, index) => good(index + 1));
    rows[11] = { ...good(12), price: '10000.00' };

    // act
    const invalid = await firstInvalidInFile(rows);

    // assert
    expect(invalid).toEqual({ row: 12, column: 'price', problem: '10000.00 does not fit numeric(6,2)' });
    expect(invalid).toEqual(firstInvalidValue(columns, rows));
  });

  it('reports the first bad row, and in it the first bad column, as the row-by-row check does', async () => {
    // prepare: in the second group, row 9 is bad in an early column and row 8 in two later ones
    const rows = Array.from({ length: 12 }, (_, index) => good(index + 1));
    rows[8] = { ...good(9), name: 'too long' };
    rows[7] = { ...good(8), name: null, price: '-10000.00' };

    // act
    const invalid = await firstInvalidInFile(rows);

    // assert
    expect(invalid).toEqual({ row: 8, column: 'name', problem: 'is NULL but the column is NOT NULL' });
    expect(invalid).toEqual(firstInvalidValue(columns, rows));
  });

  it('accepts every valid value, whatever the row group size', async () => {
    // prepare
    const rows = Array.from({ length: 23 }, (_, index) => good(index + 1));

    // act / assert
    for (const rowGroupSize of [1, 5, 23]) expect(await firstInvalidInFile(rows, { rowGroupSize })).toBeNull();
  });

  it('judges every time and every value of an unexpected Parquet type exactly as valueProblem does', () => {
    // prepare: values no transform writes, in row groups built by hand
    const candidates: Array<[ColumnDef, CellValue, DecodedKind]> = [
      ...['00:00:00.000000', '23:59:59.999999', '24:00:00.000000', '19:60:00.000000', '12:00:60.000000', '9:00:00.000000',
        '12:00:00.00000a', '12:00:00,000000', '12-00:00.000000', '00:00:00.0000-1', '１2:00:00.000000'].map(
        (value): [ColumnDef, CellValue, DecodedKind] => [time('t'), value, { kind: 'time' }],
      ),
      [time('t'), 43_200_000_000, { kind: 'other' }],
      [int('id'), 1.5, { kind: 'other' }],
      [int('id'), 2 ** 31, { kind: 'other' }],
      [int('id'), 7, { kind: 'other' }],
      [boolean('b'), 1, { kind: 'other' }],
      [money('price'), 12.5, { kind: 'other' }],
    ];

    for (const [column, value, decoded] of candidates) {
      // act
      const group: DecodedRowGroup = { rowStart: 40, rowCount: 2, columns: new Map([[column.name, { name: column.name, decoded, values: [value, value] }]]) };
      const invalid = createRowGroupValidator([column])(group);

      // assert
      const problem = valueProblem(column, value);
      expect(invalid).toEqual(problem === null ? null : { row: 41, column: column.name, problem });
    }
  });

  it('judges dates, times and decimals kept as exact integers exactly as valueProblem judges their text', () => {
    // prepare: integers no transform writes, in row groups built by hand
    const day = 86_400_000_000;
    const tight = { ...money('price'), type: { kind: 'decimal' as const, scale: 2, precision: 2 } };
    const nullable = { ...money('price'), nullable: true };
    const candidates: Array<[ColumnDef, ExactIntegers['kind'], number, number | null]> = [
      ...[-1, 0, day - 1, day, day + 1].map((micros): [ColumnDef, ExactIntegers['kind'], number, number | null] => [time('t'), 'time', 0, micros]),
      [time('t'), 'time', 0, null],
      [time('t'), 'decimal', 2, 1_999], // a decimal where a time belongs
      [money('price'), 'time', 0, 1_999], // a time where a decimal belongs
      ...[99_999_999, 100_000_000, -100_000_000, 0, -1].map((unscaled): [ColumnDef, ExactIntegers['kind'], number, number | null] => [money('price'), 'decimal', 2, unscaled]),
      [money('price'), 'decimal', 3, 1_990],
      [money('price'), 'decimal', 0, 999_999],
      [money('price'), 'decimal', 0, 1_000_000],
      [money('price'), 'decimal', 2, null],
      [nullable, 'decimal', 2, null],
      [tight, 'decimal', 2, 50],
      [tight, 'decimal', 2, -99],
      // days since 1970-01-01: 0100-01-01 and 9999-12-31 are the ends isCalendarDate accepts
      ...[-683_004, -683_003, -1, 0, 19_782, 2_932_896, 2_932_897, -719_529, 100_000_001, -2_147_483_648].map(
        (days): [ColumnDef, ExactIntegers['kind'], number, number | null] => [date('d'), 'date', 0, days],
      ),
      [date('d'), 'date', 0, null],
      [date('d'), 'time', 0, 0], // a time where a date belongs
      [time('t'), 'date', 0, 0], // a date where a time belongs
    ];

    const textOf = (kind: ExactIntegers['kind'], scale: number, integer: number): string => {
      if (kind === 'date') return formatDay(integer);
      return kind === 'time' ? microsToTime(BigInt(integer)) : unscaledToDecimal(BigInt(integer), scale);
    };
    for (const [column, kind, scale, integer] of candidates) {
      const text = integer === null ? null : textOf(kind, scale, integer);
      const exact: ExactIntegers = { kind, scale, integers: Float64Array.of(integer ?? 0), nulls: integer === null ? Uint8Array.of(1) : null };
      const decoded: DecodedKind = kind === 'decimal' ? { kind: 'decimal', scale } : { kind };

      // act
      const group: DecodedRowGroup = { rowStart: 40, rowCount: 1, columns: new Map([[column.name, { name: column.name, decoded, values: [text], exact }]]) };
      const invalid = createRowGroupValidator([column])(group);

      // assert
      const problem = valueProblem(column, text);
      expect(invalid, `${column.name} ${kind} ${integer}`).toEqual(problem === null ? null : { row: 41, column: column.name, problem });
    }
  });

  it('rejects decimals written with more places than the column has, trailing zeros included', async () => {
    // prepare
    const written = fileColumns.map((column) => (column.name === 'price' ? { ...column, type: { kind: 'decimal' as const, scale: 3, precision: 7 } } : column));
    const rows = [{ ...good(1), price: '1.990' }];

    // act
    const invalid = await firstInvalidInFile(rows, { written });

    // assert
    expect(invalid).toEqual({ row: 1, column: 'price', problem: '1.990 has more than 2 decimal places' });
  });
});
