import { describe, expect, it } from 'vitest';
import { ObjectBuffers } from '../../../src/stages/shared/object-buffers';

describe('ObjectBuffers', () => {
  it('hands back the memory of a given object for the next one that fits, as exactly the bytes asked for', () => {
    // prepare
    const buffers = new ObjectBuffers(2, 1024);
    const first = buffers.take(1500);
    first.fill(7);

    // act
    buffers.give(first);
    const second = buffers.take(100);

    // assert
    expect(first.buffer.byteLength).toBe(2048);
    expect(second.buffer).toBe(first.buffer);
    expect(second.byteLength).toBe(100);
    expect(buffers.idleSizes).toEqual([]);
  });

  it('takes the smallest idle buffer that fits, and a new one when none does', () => {
    // prepare
    const buffers = new ObjectBuffers(2, 1024);
    const small = buffers.take(1000);
    const large = buffers.take(3000);
    buffers.give(large);
    buffers.give(small);

    // act
    const fits = buffers.take(900);
    const tooLarge = buffers.take(5000);

    // assert
    expect(fits.buffer).toBe(small.buffer);
    expect(tooLarge.buffer).not.toBe(large.buffer);
    expect(tooLarge.buffer.byteLength).toBe(5120);
    expect(buffers.idleSizes).toEqual([3072]);
  });

  it('keeps at most its limit, dropping the smallest, and ignores memory it did not make or already has', () => {
    // prepare
    const buffers = new ObjectBuffers(2, 1024);
    const taken = [1000, 5000, 3000].map((size) => buffers.take(size));

    // act
    for (const bytes of taken) buffers.give(bytes);
    buffers.give(taken[1]!);
    buffers.give(new Uint8Array(4096));
    buffers.give(Buffer.from('a slice of Node’s shared pool'));

    // assert
    expect(buffers.idleSizes.sort((a, b) => a - b)).toEqual([3072, 5120]);
  });

  it('refuses a limit or rounding that is not a whole number', () => {
    expect(() => new ObjectBuffers(-1)).toThrow('keepAtMost');
    expect(() => new ObjectBuffers(2, 0)).toThrow('roundTo');
  });
});
