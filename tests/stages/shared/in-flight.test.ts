import { describe, expect, it } from 'vitest';
import { createInFlightLimit } from '../../../src/stages/shared/in-flight';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('createInFlightLimit', () => {
  it('runs at most the limit at once, in arrival order, and every piece of work to the end', async () => {
    // prepare
    const limit = createInFlightLimit(2);
    let active = 0;
    let peak = 0;
    const started: number[] = [];
    const work = (id: number) => async () => {
      started.push(id);
      active += 1;
      peak = Math.max(peak, active);
      await tick();
      active -= 1;
      return id * 10;
    };

    // act
    const results = await Promise.all([1, 2, 3, 4, 5].map((id) => limit(work(id))));

    // assert
    expect(results).toEqual([10, 20, 30, 40, 50]);
    expect(peak).toBe(2);
    expect(started).toEqual([1, 2, 3, 4, 5]);
  });

  it('frees the slot of work that fails, and passes the failure on', async () => {
    // prepare
    const limit = createInFlightLimit(1);
    const failing = limit(async () => {
      await tick();
      throw new Error('boom');
    });

    // act
    const after = limit(async () => 'next');

    // assert
    await expect(failing).rejects.toThrow('boom');
    await expect(after).resolves.toBe('next');
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => createInFlightLimit(0)).toThrow(/positive integer/);
  });
});
