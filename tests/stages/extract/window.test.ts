import { describe, expect, it } from 'vitest';
import { laterOf, secondsBefore, versionsToRemember } from '../../../src/stages/extract/window';

describe('secondsBefore', () => {
  it('subtracts whole seconds across day and year boundaries, keeping the microseconds', () => {
    // act / assert
    expect(secondsBefore('2024-11-20 16:25:45.036123', 900)).toBe('2024-11-20 16:10:45.036123');
    expect(secondsBefore('2025-01-01 00:05:00.5', 900)).toBe('2024-12-31 23:50:00.500000');
    expect(secondsBefore('2024-03-31 01:10:00.000001', 3600)).toBe('2024-03-31 00:10:00.000001');
    expect(() => secondsBefore('2024-11-20 16:25:45', 1.5)).toThrow(/whole number/);
  });
});

describe('laterOf', () => {
  it('picks the later normalised timestamp, treating null as no watermark', () => {
    // act / assert
    expect(laterOf(null, '2024-01-01 00:00:00.000000')).toBe('2024-01-01 00:00:00.000000');
    expect(laterOf('2024-01-02 00:00:00.000000', '2024-01-01 00:00:00.000000')).toBe('2024-01-02 00:00:00.000000');
  });
});

describe('versionsToRemember', () => {
  it('keeps versions inside the window, newest first, deduplicated and capped', () => {
    // prepare
    const previous = [
      { id: 1, lastUpdated: '2024-11-20 16:00:00.000000' },
      { id: 2, lastUpdated: '2024-11-20 16:20:00.000000' },
    ];
    const extracted = [
      { id: 3, lastUpdated: '2024-11-20 16:30:00.000000' },
      { id: 2, lastUpdated: '2024-11-20 16:20:00.000000' },
      { id: 4, lastUpdated: '2024-11-20 16:25:00.000000' },
    ];

    // act
    const all = versionsToRemember(previous, extracted, '2024-11-20 16:15:00.000000', 10);
    const capped = versionsToRemember(previous, extracted, '2024-11-20 16:15:00.000000', 2);

    // assert
    expect(all.map((version) => version.id)).toEqual([3, 4, 2]);
    expect(capped.map((version) => version.id)).toEqual([3, 4]);
  });
});
