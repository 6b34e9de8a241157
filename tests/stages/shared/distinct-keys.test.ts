import { describe, expect, it } from 'vitest';
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

  it('finds every id of a large ascending run whose bitset grows many times', () => {
    const keys = new DistinctKeys();
    const ids = Array.from({ length: 200_000 }, (_, index) => index * 7);
    keys.addColumn(ids, ids.length);
    keys.addColumn(ids.slice().reverse(), ids.length);
    expect(keys.size).toBe(ids.length);
    expect(keys.values().sort((a, b) => Number(a) - Number(b))).toEqual(ids);
  });
});
