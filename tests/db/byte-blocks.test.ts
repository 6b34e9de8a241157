import { describe, expect, it } from 'vitest';
import { BlockPool, BlockWriter } from '../../src/db/byte-blocks';

describe('BlockWriter', () => {
  it('keeps the bytes in order across block boundaries, every block but the last full', () => {
    // prepare
    const writer = new BlockWriter(new BlockPool(4, 8));

    // act
    for (const piece of ['ab', 'cdefg', '', 'hijklmnop', 'q']) writer.write(Buffer.from(piece));
    const filled = writer.finish();

    // assert
    expect(filled.parts.map((part) => Buffer.from(part).toString())).toEqual(['abcd', 'efgh', 'ijkl', 'mnop', 'q']);
    expect(filled.byteLength).toBe(17);
    expect(writer.byteLength).toBe(0);
  });

  it('starts over empty after finishing, in blocks of its own', () => {
    // prepare
    const writer = new BlockWriter(new BlockPool(4, 8));
    writer.write(Buffer.from('abcdef'));
    const first = writer.finish();

    // act
    writer.write(Buffer.from('xyz'));
    const second = writer.finish();

    // assert
    expect(Buffer.concat(first.parts).toString()).toBe('abcdef');
    expect(Buffer.concat(second.parts).toString()).toBe('xyz');
    expect(second.parts.map((part) => part.buffer)).not.toContain(first.parts[1]?.buffer);
  });

  it('gives its blocks back once however often it is released, and the pool hands them out again', () => {
    // prepare
    const pool = new BlockPool(4, 8);
    const writer = new BlockWriter(pool);
    writer.write(Buffer.from('abcdefghij'));
    const filled = writer.finish();
    const blocks = filled.parts.map((part) => part.buffer);

    // act
    filled.release();
    filled.release();
    const idle = pool.idleBlocks;
    const reused = [pool.take(), pool.take(), pool.take()].map((block) => block.buffer);

    // assert: the very same blocks (identity, not contents)
    expect(idle).toBe(3);
    expect(new Set(reused).size).toBe(3);
    expect(reused.every((block) => blocks.includes(block))).toBe(true);
    expect(pool.idleBlocks).toBe(0);
  });

  it('keeps at most keepAtMost idle blocks', () => {
    // prepare
    const pool = new BlockPool(2, 2);
    const writer = new BlockWriter(pool);
    writer.write(Buffer.from('abcdefgh'));

    // act
    writer.finish().release();

    // assert
    expect(pool.idleBlocks).toBe(2);
  });

  it('refuses a block size below one byte', () => {
    expect(() => new BlockPool(0, 1)).toThrow(/whole number >= 1/);
  });
});
