import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { centsToMoney, millisToTimestamp, moneyToCents, timestampToMillis } from '../../src/seed/values';

describe('moneyToCents', () => {
  it('reads strings and numbers without float error', () => {
    expect([moneyToCents('3.94'), moneyToCents(3.94), moneyToCents(0.29), moneyToCents('-0.5'), moneyToCents(4)]).toEqual([394, 394, 29, -50, 400]);
  });

  it('refuses more than two fractional digits and non-numbers', () => {
    expect([moneyToCents('1.005'), moneyToCents(0.1 + 0.2), moneyToCents('1e3'), moneyToCents(true), moneyToCents(Number.NaN)])
      .toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('round-trips every cent amount through its money text', () => {
    fc.assert(fc.property(fc.integer({ min: -1e9, max: 1e9 }), (cents) => moneyToCents(centsToMoney(cents)) === cents));
  });
});

describe('timestamps', () => {
  it('formats milliseconds like the source and parses them back', () => {
    expect(millisToTimestamp(Date.UTC(2022, 10, 3, 14, 20, 49, 962))).toBe('2022-11-03 14:20:49.962000');
    expect(timestampToMillis('2022-11-03 14:20:49.962000')).toBe(Date.UTC(2022, 10, 3, 14, 20, 49, 962));
    expect(timestampToMillis('2023-02-16 09:26:10')).toBe(Date.UTC(2023, 1, 16, 9, 26, 10));
    expect(timestampToMillis('2023-02-30 09:26:10')).toBeUndefined();
  });
});
