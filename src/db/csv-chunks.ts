import type { CsvChunk } from '../stages/extract/ports';
import { BlockPool, BlockWriter } from './byte-blocks';

const QUOTE = 0x22;
const NEWLINE = 0x0a;

/**
 * Chunk memory comes in blocks of this size: a 50,000-row sales-order chunk (~5 MB) fills about
 * ten, and a small table's only chunk takes one, touched only as far as it is written.
 */
export const CHUNK_BLOCK_BYTES = 512 * 1024;

/** A pool for the chunks of one process: enough idle blocks for two tables' chunks in flight. */
export function createChunkMemory(): BlockPool {
  return new BlockPool(CHUNK_BLOCK_BYTES, 64);
}

/**
 * Cuts the output of one `COPY … TO STDOUT (FORMAT csv, HEADER true)` into chunks of at most
 * `maxRows` records, each starting with the header, so one read of a table can fill many objects.
 *
 * A record ends at a newline outside quotes. PostgreSQL quotes every value holding a quote, a
 * delimiter or a line break, and writes a quote inside a value as two, so counting quotes is
 * enough to tell the two kinds of newline apart: the parity flips at every quote and the doubled
 * one flips it back. Nothing else in a record is parsed.
 *
 * A chunk's bytes are copied into blocks of `memory` as they arrive, so the COPY's buffers die
 * young; the consumer releases each chunk once it is uploaded, and its blocks fill a later chunk.
 */
export class CsvChunker {
  private header: Buffer | null = null;
  /** The header's bytes until its newline arrives, as slices of the input. */
  private headerParts: Buffer[] = [];
  /** The chunk being filled: the header, then its records. */
  private readonly filling: BlockWriter;
  private pendingRows = 0;
  /** Bytes since the last newline that ended a record: a record not yet complete. */
  private partialBytes = 0;
  private quoted = false;

  constructor(
    private readonly maxRows: number,
    memory: BlockPool = createChunkMemory(),
  ) {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new Error(`rows per chunk must be a whole number >= 1, got ${maxRows}`);
    this.filling = new BlockWriter(memory);
  }

  /** Takes the next bytes of the COPY and returns the chunks they complete, in order. */
  push(bytes: Buffer): CsvChunk[] {
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
          this.header = Buffer.concat([...this.headerParts, bytes.subarray(chunkStart, position)]);
          this.headerParts = [];
          chunkStart = position;
        } else if (++this.pendingRows === this.maxRows) {
          this.append(this.header, bytes.subarray(chunkStart, position));
          full.push(this.take());
          chunkStart = position;
        }
      } else if (nextQuote < end) {
        this.quoted = true;
        position = nextQuote + 1;
      } else {
        break;
      }
    }
    if (chunkStart < end) {
      if (this.header === null) this.headerParts.push(bytes.subarray(chunkStart));
      else this.append(this.header, bytes.subarray(chunkStart));
    }
    this.partialBytes = lastRecordEnd < 0 ? this.partialBytes + end : end - lastRecordEnd;
    return full;
  }

  /** The last, partly filled chunk once the COPY has ended, or null when there is none. */
  end(): CsvChunk | null {
    // PostgreSQL ends every record with a newline, so anything after the last one is a cut-off stream.
    if (this.partialBytes > 0 || this.quoted) throw new Error(`the CSV ends inside a record (${this.partialBytes} bytes after the last complete one)`);
    if (this.header === null) throw new Error('the CSV has no header line');
    return this.pendingRows > 0 ? this.take() : null;
  }

  /** Adds record bytes to the chunk being filled, which starts with the header. */
  private append(header: Buffer, records: Buffer): void {
    if (this.filling.byteLength === 0) this.filling.write(header);
    this.filling.write(records);
  }

  private take(): CsvChunk {
    const { parts, release } = this.filling.finish();
    const chunk = { rows: this.pendingRows, csv: parts, release };
    this.pendingRows = 0;
    return chunk;
  }
}
