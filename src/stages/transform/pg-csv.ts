/**
 * A streaming reader for exactly the CSV that PostgreSQL's `COPY … TO STDOUT (FORMAT csv)`
 * writes: comma delimiter, `"` quote, `""` for a quote inside quotes, NULL as an unquoted empty
 * field, the empty string as `""`, every record ending in `\n`. Any field holding a delimiter,
 * quote, CR or LF is quoted, so outside quotes only `,` and `\n` have meaning.
 *
 * It works on the bytes: the delimiters are ASCII and never occur inside a multi-byte UTF-8
 * character, so a record, a field or a character may straddle chunks, and each field is decoded
 * once, when it is complete. Only the unfinished field of a chunk is kept for the next one.
 */

/** One record's fields; `null` is PostgreSQL's NULL (an unquoted empty field). */
export type PgCsvFields = (string | null)[];

/** Receives each record with the line it starts on (the first line is 1). */
export type PgCsvRecordSink = (fields: PgCsvFields, line: number) => void;

export type PgCsvProblem =
  | 'quote-not-closed'
  | 'quote-in-unquoted-field'
  | 'text-after-closing-quote'
  | 'carriage-return-outside-quotes';

/** Input that is not PostgreSQL's CSV; `field` is the 0-based index of the field being read. */
export class PgCsvError extends Error {
  constructor(
    readonly problem: PgCsvProblem,
    message: string,
    readonly line: number,
    readonly field: number,
  ) {
    super(message);
    this.name = 'PgCsvError';
  }
}

/** How the input ended: `terminated` is false when the last record had no line ending. */
export interface PgCsvEnd {
  readonly terminated: boolean;
  /** The line the input ends on: 1 plus the number of line feeds in it. */
  readonly lastLine: number;
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

// Where the reader stands, carried from one chunk to the next.
const FIELD_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** Just read a quote inside a quoted field: it closes the field unless another quote follows. */
const QUOTE_IN_QUOTED = 3;

const messages: Record<PgCsvProblem, string> = {
  'quote-not-closed': 'the input ends inside a quoted field',
  'quote-in-unquoted-field': 'a quote inside an unquoted field',
  'text-after-closing-quote': 'characters after a closing quote',
  // PostgreSQL quotes any field holding a CR, so a bare one means the line endings were converted.
  'carriage-return-outside-quotes': 'a carriage return outside quotes (line endings converted to CRLF?)',
};

export class PgCsvReader {
  private state = FIELD_START;
  private fields: PgCsvFields = [];
  /** Bytes of the unfinished field from earlier chunks (of a quoted one: after its opening quote). */
  private carried: Buffer[] = [];
  /** The quoted field being read holds a doubled quote, to be undoubled once decoded. */
  private escaped = false;
  private lineFeeds = 0;
  private recordLine = 1;

  constructor(private readonly onRecord: PgCsvRecordSink) {}

  /** Reads one chunk, handing every record it completes to the sink before returning. */
  push(chunk: Buffer): void {
    const length = chunk.length;
    let state = this.state;
    // A field carried over from the previous chunk continues at this chunk's first byte.
    let fieldStart = 0;
    // Where the quote that closes a quoted field is; -1 while it is the carried bytes' last one.
    let closingQuote = -1;
    let at = 0;
    while (at < length) {
      if (state === FIELD_START) {
        const byte = chunk[at]!;
        if (byte === QUOTE) {
          state = QUOTED;
          this.escaped = false;
          at += 1;
          fieldStart = at;
          continue;
        }
        if (byte === COMMA) {
          this.fields.push(null);
          at += 1;
          continue;
        }
        if (byte === LF) {
          this.fields.push(null);
          at += 1;
          this.endRecord();
          continue;
        }
        if (byte === CR) this.fail('carriage-return-outside-quotes');
        state = UNQUOTED;
        fieldStart = at;
      }

      if (state === UNQUOTED) {
        let byte = 0;
        while (at < length && (byte = chunk[at]!) !== COMMA && byte !== LF && byte !== QUOTE && byte !== CR) at += 1;
        if (at === length) break;
        if (byte === QUOTE) this.fail('quote-in-unquoted-field');
        if (byte === CR) this.fail('carriage-return-outside-quotes');
        this.fields.push(this.take(chunk, fieldStart, at));
        state = FIELD_START;
        at += 1;
        if (byte === LF) this.endRecord();
        continue;
      }

      if (state === QUOTED) {
        let byte = 0;
        while (at < length && (byte = chunk[at]!) !== QUOTE) {
          // A line feed inside quotes starts a new line of the input, not a new record.
          if (byte === LF) this.lineFeeds += 1;
          at += 1;
        }
        if (at === length) break;
        state = QUOTE_IN_QUOTED;
        closingQuote = at;
        at += 1;
        continue;
      }

      // QUOTE_IN_QUOTED
      const byte = chunk[at]!;
      if (byte === QUOTE) {
        this.escaped = true;
        state = QUOTED;
        at += 1;
        continue;
      }
      if (byte !== COMMA && byte !== LF) this.fail('text-after-closing-quote');
      this.fields.push(this.takeQuoted(chunk, fieldStart, closingQuote));
      state = FIELD_START;
      at += 1;
      if (byte === LF) this.endRecord();
    }

    // Keep the unfinished field's bytes as a copy: a stream may reuse the chunk's memory.
    if (state !== FIELD_START && fieldStart < length) this.carried.push(Buffer.from(chunk.subarray(fieldStart, length)));
    this.state = state;
  }

  /**
   * Ends the input: a last record without its line ending is still handed to the sink (the
   * caller decides whether that is acceptable); input that ends inside quotes throws.
   */
  end(): PgCsvEnd {
    const state = this.state;
    if (state === QUOTED) this.fail('quote-not-closed');
    const terminated = state === FIELD_START && this.fields.length === 0;
    if (!terminated) {
      const empty = Buffer.alloc(0);
      // An unterminated record ending in a comma still has its last (NULL) field.
      const last = state === FIELD_START ? null : state === UNQUOTED ? this.take(empty, 0, 0) : this.takeQuoted(empty, 0, -1);
      this.fields.push(last);
      this.state = FIELD_START;
      this.emit();
    }
    return { terminated, lastLine: this.lineFeeds + 1 };
  }

  private endRecord(): void {
    this.lineFeeds += 1;
    this.emit();
  }

  private emit(): void {
    const fields = this.fields;
    const line = this.recordLine;
    this.fields = [];
    this.recordLine = this.lineFeeds + 1;
    this.onRecord(fields, line);
  }

  /** Decodes a field: the carried bytes, then `chunk[start, end)`. Unquoted and empty is NULL. */
  private take(chunk: Buffer, start: number, end: number): string | null {
    if (this.carried.length === 0) return start === end ? null : chunk.toString('utf8', start, end);
    const bytes = Buffer.concat([...this.carried, chunk.subarray(start, end)]);
    this.carried = [];
    return bytes.toString('utf8');
  }

  /** Decodes a quoted field whose closing quote is at `closingQuote` (or ended the carried bytes). */
  private takeQuoted(chunk: Buffer, start: number, closingQuote: number): string {
    let text: string;
    if (closingQuote >= start) {
      text = this.carried.length === 0 ? chunk.toString('utf8', start, closingQuote) : (this.take(chunk, start, closingQuote) ?? '');
    } else {
      const bytes = Buffer.concat(this.carried);
      this.carried = [];
      text = bytes.toString('utf8', 0, bytes.length - 1);
    }
    return this.escaped ? text.replaceAll('""', '"') : text;
  }

  private fail(problem: PgCsvProblem): never {
    throw new PgCsvError(problem, messages[problem], this.recordLine, this.fields.length);
  }
}
