import { describe, expect, it } from 'vitest';
import { formatDay } from '../../../src/parquet/decode';
import { DistinctKeys } from '../../../src/stages/shared/distinct-keys';

function sorted(keys: DistinctKeys): unknown[] {
  return keys.values().sort((a, b) => String(a).localeCompare(String(b), 'en', { numeric: true }));
}

describe('DistinctKeys', () => {
  it('keeps each non-null value once, across rows, columns and batches', () => {
    const keys = new DistinctKeys();
    keys.addColumn([3, 1, 3, null, 1, 2], 6);
    keys.addColumn([2, undefined, 7, 3], 4);
    expect(sorted(keys)).toEqual([1, 2, 3, 7]);
    expect(keys.size).toBe(4);
  });

  it('reads only the first rowCount values of a column', () => {
    const keys = new DistinctKeys();
    keys.addColumn(Int32Array.of(5, 6, 7, 8), 2);
    expect(sorted(keys)).toEqual([5, 6]);
  });

  it('keeps ids that fall outside the bitset, and text, apart from equal-looking small ids', () => {
    const keys = new DistinctKeys();
    keys.addColumn([-1, 0, 2 ** 24 - 1, 2 ** 24, 2 ** 31, 1.5, '1', 1, '2024-05-03', '2024-05-03', true], 11);
    keys.addColumn([2 ** 24, -1, 1.5, '1', '2024-05-03', 0, true], 7);
    expect(keys.values()).toHaveLength(10);
    expect(new Set(keys.values())).toEqual(new Set([-1, 0, 2 ** 24 - 1, 2 ** 24, 2 ** 31, 1.5, '1', 1, '2024-05-03', true]));
  });

  it('adds dates given as days as their text, once each, with the dates given as text', () => {
    // prepare: 2024-05-03 is day 19,846; 1969-12-31 day -1; 1970-01-01 day 0
    const keys = new DistinctKeys();
    keys.addColumn(['2024-05-03', '1969-12-30'], 2);

    // act
    keys.addDays(Float64Array.of(19_846, 19_846, 0, -1, 0, 19_847, 0), Uint8Array.of(0, 0, 0, 0, 0, 0, 1), 7);
    keys.addDays(Int32Array.of(-1, 19_847, 2 ** 24 + 1), null, 3);

    // assert
    expect(sorted(keys)).toEqual(['1969-12-30', '1969-12-31', '1970-01-01', '2024-05-03', '2024-05-04', formatDay(2 ** 24 + 1)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    expect(keys.size).toBe(6);
  });

  it('finds every id of a large ascending run whose bitset grows many times', () => {
    const keys = new DistinctKeys();
    const ids = Array.from({ length: 200_000 }, (_, index) => index * 7);
    keys.addColumn(ids, ids.length);
    keys.addColumn(ids.slice().reverse(), ids.length);
    expect(keys.size).toBe(ids.length);
    expect(keys.values().sort((a, b) => Number(a) - Number(b))).toEqual(ids);
  });
});
