import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { BlockPool } from '../../src/db/byte-blocks';
import { CsvChunker } from '../../src/db/csv-chunks';
import type { CsvChunk } from '../../src/stages/extract/ports';

const HEADER = 'id,name,note\n';

/** A value as PostgreSQL's CSV writes it: quoted when it holds a quote, comma or line break. */
function csvValue(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function record(id: number, name: string, note: string): string {
  return `${id},${csvValue(name)},${csvValue(note)}\n`;
}

/** Feeds `csv` in pieces cut at `cuts` (byte offsets), then ends it. */
function chunk(csv: string, maxRows: number, cuts: readonly number[] = []): CsvChunk[] {
  const bytes = Buffer.from(csv);
  const chunker = new CsvChunker(maxRows);
  const chunks: CsvChunk[] = [];
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(...chunker.push(bytes.subarray(start, cut)));
    start = cut;
  }
  const last = chunker.end();
  if (last) chunks.push(last);
  return chunks;
}

function text(chunk: CsvChunk): string {
  return Buffer.concat(chunk.csv).toString('utf8');
}

/**
 * As the extract consumes chunks: each read as it comes and released at once, so the next
 * chunks are written into its blocks.
 */
function chunkAndRelease(csv: string, maxRows: number, cuts: readonly number[], memory: BlockPool): { rows: number; text: string }[] {
  const bytes = Buffer.from(csv);
  const chunker = new CsvChunker(maxRows, memory);
  const seen: { rows: number; text: string }[] = [];
  const consume = (each: CsvChunk) => {
    seen.push({ rows: each.rows, text: text(each) });
    each.release();
  };
  let start = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunker.push(bytes.subarray(start, cut)).forEach(consume);
    start = cut;
  }
  const last = chunker.end();
  if (last) consume(last);
  return seen;
}

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

describe('CsvChunker', () => {
  it('cuts records into chunks of at most maxRows rows, each starting with the header', () => {
    // prepare
    const csv = HEADER + [1, 2, 3, 4, 5].map((id) => record(id, `name ${id}`, '')).join('');

    // act
    const chunks = chunk(csv, 2);

    // assert
    expect(chunks.map((each) => each.rows)).toEqual([2, 2, 1]);
    expect(chunks.map(text)).toEqual([
      `${HEADER}1,name 1,\n2,name 2,\n`,
      `${HEADER}3,name 3,\n4,name 4,\n`,
      `${HEADER}5,name 5,\n`,
    ]);
  });

  it('does not end a record at a line break inside quotes, doubled quotes included', () => {
    // prepare
    const awkward = ['line one\nline two', 'say ""hi""\n', '"', '\r\n', 'a,"b"\n,c'];
    const csv = HEADER + awkward.map((note, index) => record(index + 1, `n"${index}`, note)).join('');

    // act
    const chunks = chunk(csv, 2);

    // assert
    expect(chunks.map((each) => each.rows)).toEqual([2, 2, 1]);
    const notes = chunks.flatMap((each) => (parse(text(each), { columns: true }) as { note: string }[]).map((row) => row.note));
    expect(notes).toEqual(awkward);
  });

  it('gives the same chunks however the bytes are cut into pieces, down to one byte each', () => {
    // prepare
    const csv = `${HEADER}${record(1, 'a "quoted", name', 'x\ny')}${record(2, 'plain', '')}${record(3, '🎉', '"\n"')}`;
    const whole = chunk(csv, 2).map(text);

    // act
    const byteByByte = chunk(csv, 2, Array.from({ length: Buffer.byteLength(csv) - 1 }, (_, index) => index + 1)).map(text);

    // assert
    expect(byteByByte).toEqual(whole);
    expect(whole).toHaveLength(2);
  });

  it('keeps every record exactly once on random values and random cuts', () => {
    const next = random(20_261_126);
    const alphabet = ['a', 'b', ',', '"', '\n', '\r', ' ', 'é', '🎉'];
    for (let round = 0; round < 200; round += 1) {
      // prepare
      const rows = Math.floor(next() * 40);
      const values = Array.from({ length: rows }, (_, index) => ({
        id: String(index + 1),
        name: Array.from({ length: Math.floor(next() * 6) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''),
        note: Array.from({ length: Math.floor(next() * 6) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(''),
      }));
      const csv = HEADER + values.map((value) => record(Number(value.id), value.name, value.note)).join('');
      const length = Buffer.byteLength(csv);
      const cuts = Array.from({ length: Math.floor(next() * 8) }, () => Math.floor(next() * length)).sort((a, b) => a - b);
      const maxRows = 1 + Math.floor(next() * 7);
      // Blocks of 1 to 16 bytes: records, the header and multi-byte characters all cross them.
      const memory = new BlockPool(1 + Math.floor(next() * 16), 8);

      // act
      const chunks = chunkAndRelease(csv, maxRows, cuts, memory);

      // assert
      expect(chunks.every((each) => each.rows >= 1 && each.rows <= maxRows && each.text.startsWith(HEADER))).toBe(true);
      expect(chunks.slice(0, -1).every((each) => each.rows === maxRows)).toBe(true);
      expect(chunks.flatMap((each) => parse(each.text, { columns: true }))).toEqual(values);
      expect(chunks.reduce((sum, each) => sum + each.rows, 0)).toBe(rows);
    }
  });

  it('writes a chunk into the blocks of one released before it, and never into those of a chunk still held', () => {
    // prepare: blocks of 16 bytes, chunks of two records (41 bytes: three blocks each)
    const memory = new BlockPool(16, 8);
    const chunker = new CsvChunker(2, memory);
    const records = [1, 2, 3, 4, 5, 6].map((id) => record(id, `name ${id}`, 'note'));
    const push = (csv: string) => chunker.push(Buffer.from(csv));

    // act
    const [first] = push(HEADER + records[0] + records[1]);
    const [second] = push(`${records[2]}${records[3]}`);
    const firstBlocks = first?.csv.map((part) => part.buffer);
    first?.release();
    first?.release();
    const idleAfterRelease = memory.idleBlocks;
    const [third] = push(`${records[4]}${records[5]}`);

    // assert
    expect(second && text(second)).toBe(HEADER + records[2] + records[3]);
    expect(idleAfterRelease).toBe(3);
    // The same blocks, not equal ones: identity, not contents.
    expect(third?.csv).toHaveLength(3);
    expect(third?.csv.every((part) => firstBlocks?.includes(part.buffer))).toBe(true);
    expect(third && text(third)).toBe(HEADER + records[4] + records[5]);
    expect(second && text(second)).toBe(HEADER + records[2] + records[3]);
  });

  it('yields nothing for a header alone', () => {
    expect(chunk(HEADER, 3)).toEqual([]);
  });

  it('refuses a stream cut off inside a record, or inside quotes, or without a header', () => {
    expect(() => chunk(`${HEADER}1,a,b`, 3)).toThrow('the CSV ends inside a record (5 bytes after the last complete one)');
    expect(() => chunk(`${HEADER}1,"a\n`, 3)).toThrow(/ends inside a record/);
    expect(() => chunk('', 3)).toThrow('the CSV has no header line');
  });

  it('refuses a chunk size below one row', () => {
    expect(() => new CsvChunker(0)).toThrow(/whole number >= 1/);
  });
});
