import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { encodeParquet, microsToTime, parquetColumnsFor, unscaledToDecimal } from '../../src/parquet/codec';
import { type DecodedColumn, type DecodedRowGroup, formatMicros, formatUnscaled, openParquet } from '../../src/parquet/decode';
import { boolean, date, money, nullableInt, nullableText, time } from '../../src/schemas/columns';
import type { CellValue, Row } from '../../src/schemas/rows';
import { dimTransaction, factSalesOrder } from '../../src/schemas/warehouse';

/** A group as it was decoded: the decoder reuses its integer arrays for the next group. */
function snapshot(group: DecodedRowGroup): DecodedRowGroup {
  const columns = new Map<string, DecodedColumn>();
  for (const [name, column] of group.columns) {
    const values = column.values instanceof Int32Array ? column.values.slice() : Array.from(column.values);
    const exact = column.exact ? { ...column.exact, integers: column.exact.integers.slice() } : undefined;
    columns.set(name, { name: column.name, decoded: column.decoded, values, ...(exact ? { exact } : {}) });
  }
  return { ...group, columns };
}

async function readAll(bytes: Uint8Array, only?: readonly string[]): Promise<DecodedRowGroup[]> {
  const groups: DecodedRowGroup[] = [];
  for await (const group of openParquet(bytes).rowGroups(only)) groups.push(snapshot(group));
  return groups;
}

/** The rows of decoded row groups, in file order, as row objects again (NULL as null). */
function rowsOf(groups: readonly DecodedRowGroup[], names: readonly string[]): Row[] {
  const rows: Row[] = [];
  for (const group of groups) {
    for (let index = 0; index < group.rowCount; index += 1) {
      const row: Row = {};
      for (const name of names) row[name] = (group.columns.get(name)!.values[index] ?? null) as CellValue;
      rows.push(row);
    }
  }
  return rows;
}

function salesOrder(id: number, overrides: Partial<Row> = {}): Row {
  return {
    sales_order_id: id, created_date: '2022-11-03', created_time: '14:20:52.186000', last_updated_date: '2024-11-20',
    last_updated_time: '16:25:45.036123', sales_staff_id: 19, counterparty_id: 8, units_sold: id * 7, unit_price: '19.99',
    currency_id: 2, design_id: 3, agreed_payment_date: '2022-11-08', agreed_delivery_date: '2022-11-07', agreed_delivery_location_id: 8,
    ...overrides,
  };
}

describe('openParquet', () => {
  it('reads one row group at a time, in order, with each group’s first row', async () => {
    // prepare: 25 rows in groups of 10, each row's values distinct
    const columns = parquetColumnsFor(factSalesOrder);
    const rows = Array.from({ length: 25 }, (_, index) => salesOrder(index + 1, { created_date: `2024-01-${String(index + 1).padStart(2, '0')}` }));
    const bytes = encodeParquet(columns, rows, { rowGroupSize: 10 });

    // act
    const file = openParquet(bytes);
    const groups = await readAll(bytes);

    // assert
    expect(file.columns).toEqual(columns.map((column) => column.name));
    expect(file.rowCount).toBe(25);
    expect(groups.map((group) => [group.rowStart, group.rowCount])).toEqual([[0, 10], [10, 10], [20, 5]]);
    expect(rowsOf(groups, file.columns)).toEqual(rows);
  });

  it('keeps NULL apart from the empty string, and NULL integers apart from 0', async () => {
    // prepare
    const columns = [nullableText('note'), nullableInt('ref'), boolean('flag')];
    const rows: Row[] = [
      { note: null, ref: null, flag: true },
      { note: '', ref: 0, flag: false },
      { note: 'say "hi"', ref: -2_147_483_648, flag: true },
    ];

    // act
    const groups = await readAll(encodeParquet(columns, rows, { rowGroupSize: 2 }));

    // assert
    expect(rowsOf(groups, ['note', 'ref', 'flag'])).toEqual(rows);
    expect(groups[0]!.columns.get('note')!.decoded).toEqual({ kind: 'text' });
    expect(groups[0]!.columns.get('ref')!.decoded).toEqual({ kind: 'int32' });
    // A group with a NULL keeps it; one without holds its integers in an Int32Array.
    expect(groups[0]!.columns.get('ref')!.values).not.toBeInstanceOf(Int32Array);
    expect(groups[1]!.columns.get('ref')!.values).toBeInstanceOf(Int32Array);
  });

  it('gives integer ids, dictionary-encoded or plain, as Int32Arrays outside the heap', async () => {
    // prepare: a few staff ids repeat (the writer builds a dictionary), the order ids do not
    const columns = parquetColumnsFor(factSalesOrder);
    const rows = Array.from({ length: 30 }, (_, index) => salesOrder(index + 1, { sales_staff_id: 10 + (index % 3) }));

    // act
    const [group] = await readAll(encodeParquet(columns, rows));

    // assert
    for (const name of ['sales_order_id', 'sales_staff_id', 'currency_id', 'units_sold']) {
      expect(group!.columns.get(name)!.values, name).toBeInstanceOf(Int32Array);
    }
    expect(Array.from(group!.columns.get('sales_staff_id')!.values)).toEqual(rows.map((row) => row.sales_staff_id));
  });

  it('reuses a column\u2019s integer arrays from one row group to the next: a group is read before the next is asked for', async () => {
    // prepare
    const columns = parquetColumnsFor(factSalesOrder);
    const rows = Array.from({ length: 6 }, (_, index) => salesOrder(index + 1, { unit_price: `${index}.25` }));

    // act: each group read as the load reads it, before the next
    const seen: Array<{ buffer: ArrayBufferLike; prices: number[] }> = [];
    for await (const group of openParquet(encodeParquet(columns, rows, { rowGroupSize: 3 })).rowGroups()) {
      const prices = group.columns.get('unit_price')!.exact!.integers;
      seen.push({ buffer: prices.buffer, prices: [...prices] });
    }

    // assert
    expect(seen.map(({ prices }) => prices)).toEqual([[25, 125, 225], [325, 425, 525]]);
    expect(seen[1]!.buffer).toBe(seen[0]!.buffer);
  });

  it('writes 0 for a NULL of exact integers, whatever the group before held there', async () => {
    // prepare
    const columns = [{ ...money('amount'), nullable: true }];
    const rows: Row[] = [{ amount: '1.00' }, { amount: '2.00' }, { amount: '3.00' }, { amount: null }];

    // act
    const integers: number[][] = [];
    for await (const group of openParquet(encodeParquet(columns, rows, { rowGroupSize: 2 })).rowGroups()) integers.push([...group.columns.get('amount')!.exact!.integers]);

    // assert
    expect(integers).toEqual([[100, 200], [300, 0]]);
  });

  it('gives dates as exact days too, formatted only when their values are read', async () => {
    // prepare
    const columns = parquetColumnsFor(factSalesOrder);
    const rows = [salesOrder(1, { created_date: '1969-12-31' }), salesOrder(2, { created_date: '2024-02-29' })];

    // act
    const [group] = await readAll(encodeParquet(columns, rows));

    // assert
    const created = group!.columns.get('created_date')!;
    expect(created.exact).toEqual({ kind: 'date', scale: 0, integers: Float64Array.of(-1, 19_782), nulls: null });
    expect(created.values).toEqual(['1969-12-31', '2024-02-29']);
  });

  it('reads decimals exactly, including unscaled values beyond a double’s exact range', async () => {
    // prepare
    const columns = [money('price', 10), { ...money('amount'), nullable: true }];
    const rows: Row[] = [
      { price: '19.99', amount: '0.00' },
      { price: '-0.01', amount: null },
      { price: '99999999.99', amount: '-123456789012.34' },
      { price: '0.10', amount: '90071992547409.93' }, // 2^53 + 1 unscaled
      { price: '-99999999.99', amount: '-9999999999999999.99' },
    ];

    // act
    const groups = await readAll(encodeParquet(columns, rows, { rowGroupSize: 3 }));

    // assert
    expect(rowsOf(groups, ['price', 'amount'])).toEqual(rows);
    expect(groups[0]!.columns.get('price')!.decoded).toEqual({ kind: 'decimal', scale: 2 });
    // Kept as integers where every one fits a double exactly; the group holding 2^53 + 1 is text only.
    expect(groups[0]!.columns.get('price')!.exact).toEqual({ kind: 'decimal', scale: 2, integers: Float64Array.of(1_999, -1, 9_999_999_999), nulls: null });
    expect(groups[0]!.columns.get('amount')!.exact).toEqual({ kind: 'decimal', scale: 2, integers: Float64Array.of(0, 0, -12_345_678_901_234), nulls: Uint8Array.of(0, 1, 0) });
    expect(groups[1]!.columns.get('amount')!.exact).toBeUndefined();
  });

  it('reads times to the microsecond and dates either side of 1970', async () => {
    // prepare
    const columns = [time('t'), date('d')];
    const rows: Row[] = [
      { t: '00:00:00.000000', d: '1970-01-01' },
      { t: '00:00:00.000001', d: '1969-12-31' },
      { t: '16:25:45.036123', d: '2024-02-29' },
      { t: '23:59:59.999999', d: '9999-12-31' },
      { t: '12:00:00.500000', d: '2024-02-29' },
    ];

    // act
    const groups = await readAll(encodeParquet(columns, rows, { rowGroupSize: 2 }));

    // assert
    expect(rowsOf(groups, ['t', 'd'])).toEqual(rows);
    // One string per distinct day, across row groups.
    expect(groups[1]!.columns.get('d')!.values[0]).toBe(groups[2]!.columns.get('d')!.values[0]);
    expect(groups[1]!.columns.get('t')!.exact).toEqual({ kind: 'time', scale: 0, integers: Float64Array.of(59_145_036_123, 86_399_999_999), nulls: null });
  });

  it('reads what the transform writes for a dimension: nullable ids and versions', async () => {
    // prepare
    const columns = parquetColumnsFor(dimTransaction);
    const rows: Row[] = [
      { transaction_id: 1, transaction_type: 'SALE', sales_order_id: 9, purchase_order_id: null, _source_version: '2022-11-03 14:20:54.672000' },
      { transaction_id: 2, transaction_type: 'PURCHASE', sales_order_id: null, purchase_order_id: 4, _source_version: '2022-11-03 14:20:54.672000' },
    ];

    // act
    const groups = await readAll(encodeParquet(columns, rows));

    // assert
    expect(rowsOf(groups, columns.map((column) => column.name))).toEqual(rows);
  });

  it('decodes only the columns asked for, in the order asked, and never reads the other chunks', async () => {
    // prepare: a dimension file whose transaction_type chunk is garbage in every row group
    const columns = parquetColumnsFor(dimTransaction);
    const rows: Row[] = Array.from({ length: 25 }, (_, index) => ({
      transaction_id: index + 1, transaction_type: index % 2 === 0 ? 'SALE' : 'PURCHASE', sales_order_id: index + 100, purchase_order_id: null,
      _source_version: `2022-11-03 14:20:${String(index + 10)}.672000`,
    }));
    const bytes = encodeParquet(columns, rows, { rowGroupSize: 10 });
    for (const group of parquetMetadata(bytes).row_groups) {
      const chunk = group.columns.find((each) => each.meta_data?.path_in_schema.join('.') === 'transaction_type')!.meta_data!;
      const start = Number(chunk.dictionary_page_offset || chunk.data_page_offset);
      bytes.fill(0xff, start, start + Number(chunk.total_compressed_size));
    }
    const selected = await readAll(bytes, ['_source_version', 'transaction_id']);

    // assert
    expect(selected.map((group) => [...group.columns.keys()])).toEqual(Array.from({ length: 3 }, () => ['_source_version', 'transaction_id']));
    expect(rowsOf(selected, ['_source_version', 'transaction_id'])).toEqual(rows.map((row) => ({ _source_version: row._source_version, transaction_id: row.transaction_id })));
    await expect(readAll(bytes)).rejects.toThrow();
  });

  it('refuses to select a column the file does not have', async () => {
    const bytes = encodeParquet(parquetColumnsFor(dimTransaction), []);
    await expect(openParquet(bytes).rowGroups(['transaction_id', 'staff_id']).next()).rejects.toThrow('the file has no column staff_id');
  });

  it('rejects bytes that are not Parquet', () => {
    expect(() => openParquet(new TextEncoder().encode('sales_order_id,units\n1,2\n'))).toThrow();
  });
});

describe('formatUnscaled and formatMicros', () => {
  it('format exactly as the BigInt formatters, without BigInt', () => {
    // prepare: edge values and a deterministic spread of magnitudes, signs and scales
    const unscaled = [0, 1, -1, 9, 10, 99, 100, 1999, -1999, 2 ** 53 - 1, -(2 ** 53 - 1)];
    let seed = 7;
    for (let index = 0; index < 2_000; index += 1) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      unscaled.push(Math.floor((seed / 2 ** 31) * 10 ** (index % 16)) * (index % 2 === 0 ? 1 : -1));
    }
    const micros = [0, 1, 999_999, 1_000_000, 59_999_999, 3_599_999_999, 86_399_999_999, 86_400_000_000, -1];
    for (let index = 0; index < 2_000; index += 1) micros.push(Math.floor(((index * 7_919) % 2_000) * 43_200_000 + index));

    // act / assert
    for (const value of unscaled) for (const scale of [0, 2, 4]) expect(formatUnscaled(value, scale)).toBe(unscaledToDecimal(BigInt(value), scale));
    for (const value of micros) expect(formatMicros(value)).toBe(microsToTime(BigInt(value)));
  });
});
