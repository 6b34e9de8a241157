import type { CsvChunk } from '../stages/extract/ports';

const QUOTE = 0x22;
const NEWLINE = 0x0a;
/** First size of a chunk's buffer; it doubles as needed, and a released one is reused. */
const INITIAL_CAPACITY = 64 * 1024;

/**
 * Cuts the output of one `COPY … TO STDOUT (FORMAT csv, HEADER true)` into chunks of at most
 * `maxRows` records, each starting with the header, so one read of a table can fill many objects.
 *
 * A record ends at a newline outside quotes. PostgreSQL quotes every value holding a quote, a
 * delimiter or a line break, and writes a quote inside a value as two, so counting quotes is
 * enough to tell the two kinds of newline apart: the parity flips at every quote and the doubled
 * one flips it back. Nothing else in a record is parsed.
 *
 * Each incoming piece is copied into the chunk's own buffer at once, and a chunk released after
 * its upload lends its buffer to a later chunk. Holding the pieces until a chunk was complete
 * kept them alive long enough to reach V8's old generation, and a fresh buffer per chunk left one
 * dead chunk-sized buffer per object for the next full collection: the extract's peak memory grew
 * with the number of objects.
 */
export class CsvChunker {
  private header: Buffer | null = null;
  /** The chunk being filled: the header, then its records (before the header is known, the header's first bytes). */
  private bytes: Buffer = Buffer.allocUnsafe(INITIAL_CAPACITY);
  private length = 0;
  private rows = 0;
  /** Bytes since the last newline that ended a record: a record not yet complete. */
  private partialBytes = 0;
  private quoted = false;
  private readonly released: Buffer[] = [];

  constructor(private readonly maxRows: number) {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new Error(`rows per chunk must be a whole number >= 1, got ${maxRows}`);
  }

  /** Takes the next bytes of the COPY and returns the chunks they complete, in order. */
  push(bytes: Uint8Array): CsvChunk[] {
    const full: CsvChunk[] = [];
    let chunkStart = 0;
    let position = 0;
    // The next quote at or after `position`, searched once per quote rather than once per record:
    // most records hold none, and a table without text holds none at all.
    let nextQuote = -1;
    const end = bytes.length;
    let lastRecordEnd = -1;
    while (position < end) {
      if (this.quoted) {
        const closing = bytes.indexOf(QUOTE, position);
        if (closing < 0) break;
        this.quoted = false;
        position = closing + 1;
        continue;
      }
      if (nextQuote < position && nextQuote !== end) {
        nextQuote = bytes.indexOf(QUOTE, position);
        if (nextQuote < 0) nextQuote = end;
      }
      const newline = bytes.indexOf(NEWLINE, position);
      if (newline >= 0 && newline < nextQuote) {
        position = newline + 1;
        lastRecordEnd = position;
        if (this.header === null) {
          this.append(bytes, chunkStart, position);
          this.header = Buffer.from(this.bytes.subarray(0, this.length));
          chunkStart = position;
        } else if (++this.rows === this.maxRows) {
          this.append(bytes, chunkStart, position);
          full.push(this.take());
          this.startChunk();
          chunkStart = position;
        }
      } else if (nextQuote < end) {
        this.quoted = true;
        position = nextQuote + 1;
      } else {
        break;
      }
    }
    this.append(bytes, chunkStart, end);
    this.partialBytes = lastRecordEnd < 0 ? this.partialBytes + end : end - lastRecordEnd;
    return full;
  }

  /** The last, partly filled chunk once the COPY has ended, or null when there is none. */
  end(): CsvChunk | null {
    // PostgreSQL ends every record with a newline, so anything after the last one is a cut-off stream.
    if (this.partialBytes > 0 || this.quoted) throw new Error(`the CSV ends inside a record (${this.partialBytes} bytes after the last complete one)`);
    if (this.header === null) throw new Error('the CSV has no header line');
    return this.rows > 0 ? this.take() : null;
  }

  private append(source: Uint8Array, start: number, end: number): void {
    const count = end - start;
    if (count <= 0) return;
    if (this.length + count > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.length + count));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.bytes.set(source.subarray(start, end), this.length);
    this.length += count;
  }

  private take(): CsvChunk {
    const buffer = this.bytes;
    let released = false;
    return {
      rows: this.rows,
      csv: buffer.subarray(0, this.length),
      release: () => {
        if (released) return;
        released = true;
        this.released.push(buffer);
      },
    };
  }

  /** A buffer for the next chunk, the header already in: a released one, else one as big as the last. */
  private startChunk(): void {
    this.bytes = this.released.pop() ?? Buffer.allocUnsafe(this.bytes.length);
    this.length = 0;
    this.rows = 0;
    const header = this.header as Buffer;
    this.append(header, 0, header.length);
  }
}
