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

/** Receives each record as a {@link PgCsvRecord}, valid only until the sink returns. */
export type PgCsvRecordViewSink = (record: PgCsvRecord, line: number) => void;

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

const EMPTY = Buffer.alloc(0);

/**
 * `chunk.toString('utf8', start, end)` without its argument checks and encoding lookup: Buffer's
 * own decoder, which toString ends in.
 */
function utf8(chunk: Buffer, start: number, end: number): string {
  return (chunk as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end);
}

/**
 * One record, reused for every record of a reader. An unquoted field that lies within the chunk
 * being read is kept as its span of the chunk, undecoded: a consumer that parses numbers, dates
 * and timestamps reads them from the bytes, and no string is made for them (a sales order is 12
 * such fields). Other fields (quoted ones, and those continued across chunks) are decoded text.
 */
export class PgCsvRecord {
  /** The number of fields. */
  length = 0;
  /** The chunk the spans are in. */
  private chunk: Buffer = EMPTY;
  private starts = new Int32Array(16);
  private ends = new Int32Array(16);
  /** Per field: `undefined` for a span, else its text (`null` for NULL). */
  private readonly texts: Array<string | null | undefined> = [];
  /** Per text field read as bytes: its UTF-8 encoding, made on demand. */
  private readonly encoded: Array<Buffer | undefined> = [];

  /** Whether the field is NULL (unquoted and empty). */
  isNull(field: number): boolean {
    return this.texts[field] === null;
  }

  /** The field's text, decoded from the chunk if need be; `null` for NULL. */
  text(field: number): string | null {
    const text = this.texts[field];
    return text === undefined ? utf8(this.chunk, this.starts[field]!, this.ends[field]!) : text;
  }

  /**
   * The bytes holding a field that is not NULL, from {@link start} to {@link end}: the chunk for
   * a span, the text's UTF-8 encoding otherwise.
   */
  bytes(field: number): Buffer {
    const text = this.texts[field];
    if (text === undefined) return this.chunk;
    const encoded = this.encoded[field] ?? Buffer.from(text ?? '', 'utf8');
    this.encoded[field] = encoded;
    return encoded;
  }

  start(field: number): number {
    return this.texts[field] === undefined ? this.starts[field]! : 0;
  }

  end(field: number): number {
    return this.texts[field] === undefined ? this.ends[field]! : this.bytes(field).length;
  }

  /** The fields as an array of text, as {@link PgCsvReader} hands them over. */
  toFields(): PgCsvFields {
    const fields: PgCsvFields = new Array<string | null>(this.length);
    for (let field = 0; field < this.length; field += 1) fields[field] = this.text(field);
    return fields;
  }

  /** @internal The reader's side: the chunk that spans added from now on are in. */
  readChunk(chunk: Buffer): void {
    this.chunk = chunk;
  }

  /** @internal */
  addSpan(start: number, end: number): void {
    const field = this.length;
    if (field === this.starts.length) this.grow();
    this.starts[field] = start;
    this.ends[field] = end;
    this.texts[field] = undefined;
    this.encoded[field] = undefined;
    this.length = field + 1;
  }

  /** @internal */
  addText(text: string | null): void {
    this.texts[this.length] = text;
    this.encoded[this.length] = undefined;
    this.length += 1;
  }

  /** @internal Decodes the spans: the chunk they are in is about to be replaced (a stream may reuse its memory). */
  detach(): void {
    for (let field = 0; field < this.length; field += 1) {
      if (this.texts[field] === undefined) this.texts[field] = utf8(this.chunk, this.starts[field]!, this.ends[field]!);
    }
    this.chunk = EMPTY;
  }

  /** @internal */
  clear(): void {
    this.length = 0;
  }

  private grow(): void {
    const starts = new Int32Array(this.starts.length * 2);
    const ends = new Int32Array(this.ends.length * 2);
    starts.set(this.starts);
    ends.set(this.ends);
    this.starts = starts;
    this.ends = ends;
  }
}

/** Reads PostgreSQL's CSV, handing each record over as an array of text. */
export class PgCsvReader {
  private readonly reader: PgCsvRecordReader;

  constructor(onRecord: PgCsvRecordSink) {
    this.reader = new PgCsvRecordReader((record, line) => onRecord(record.toFields(), line));
  }

  /** Reads one chunk, handing every record it completes to the sink before returning. */
  push(chunk: Buffer): void {
    this.reader.push(chunk);
  }

  /** See {@link PgCsvRecordReader.end}. */
  end(): PgCsvEnd {
    return this.reader.end();
  }
}

/** Reads PostgreSQL's CSV, handing each record over as a {@link PgCsvRecord}. */
export class PgCsvRecordReader {
  private state = FIELD_START;
  private readonly record = new PgCsvRecord();
  /** Bytes of the unfinished field from earlier chunks (of a quoted one: after its opening quote). */
  private carried: Buffer[] = [];
  /** The quoted field being read holds a doubled quote, to be undoubled once decoded. */
  private escaped = false;
  private lineFeeds = 0;
  private recordLine = 1;

  constructor(private readonly onRecord: PgCsvRecordViewSink) {}

  /** Reads one chunk, handing every record it completes to the sink before returning. */
  push(chunk: Buffer): void {
    const length = chunk.length;
    const record = this.record;
    record.readChunk(chunk);
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
          record.addText(null);
          at += 1;
          continue;
        }
        if (byte === LF) {
          record.addText(null);
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
        // Digits, letters, '-', '.', ':' and every byte of a multi-byte character are above the
        // comma, so most bytes take one comparison; the four that matter are all below it.
        while (at < length && ((byte = chunk[at]!) > COMMA || (byte !== COMMA && byte !== LF && byte !== QUOTE && byte !== CR))) at += 1;
        if (at === length) break;
        if (byte === QUOTE) this.fail('quote-in-unquoted-field');
        if (byte === CR) this.fail('carriage-return-outside-quotes');
        this.take(chunk, fieldStart, at);
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
      record.addText(this.takeQuoted(chunk, fieldStart, closingQuote));
      state = FIELD_START;
      at += 1;
      if (byte === LF) this.endRecord();
    }

    // Keep the unfinished field's bytes as a copy, and decode the unfinished record's spans: a
    // stream may reuse the chunk's memory.
    if (state !== FIELD_START && fieldStart < length) this.carried.push(Buffer.from(chunk.subarray(fieldStart, length)));
    record.detach();
    this.state = state;
  }

  /**
   * Ends the input: a last record without its line ending is still handed to the sink (the
   * caller decides whether that is acceptable); input that ends inside quotes throws.
   */
  end(): PgCsvEnd {
    const state = this.state;
    if (state === QUOTED) this.fail('quote-not-closed');
    const terminated = state === FIELD_START && this.record.length === 0;
    if (!terminated) {
      // An unterminated record ending in a comma still has its last (NULL) field.
      if (state === FIELD_START) this.record.addText(null);
      else if (state === UNQUOTED) this.take(EMPTY, 0, 0);
      else this.record.addText(this.takeQuoted(EMPTY, 0, -1));
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
    const line = this.recordLine;
    this.recordLine = this.lineFeeds + 1;
    try {
      this.onRecord(this.record, line);
    } finally {
      this.record.clear();
    }
  }

  /**
   * Adds an unquoted field: the carried bytes, then `chunk[start, end)`. Unquoted and empty is
   * NULL; one within the chunk stays a span of it.
   */
  private take(chunk: Buffer, start: number, end: number): void {
    if (this.carried.length === 0) {
      if (start === end) this.record.addText(null);
      else this.record.addSpan(start, end);
      return;
    }
    const bytes = Buffer.concat([...this.carried, chunk.subarray(start, end)]);
    this.carried = [];
    this.record.addText(bytes.toString('utf8'));
  }

  /** The unquoted field `chunk[start, end)` with the carried bytes before it, decoded. */
  private takeText(chunk: Buffer, start: number, end: number): string | null {
    if (this.carried.length === 0) return start === end ? null : utf8(chunk, start, end);
    const bytes = Buffer.concat([...this.carried, chunk.subarray(start, end)]);
    this.carried = [];
    return bytes.toString('utf8');
  }

  /** Decodes a quoted field whose closing quote is at `closingQuote` (or ended the carried bytes). */
  private takeQuoted(chunk: Buffer, start: number, closingQuote: number): string {
    let text: string;
    if (closingQuote >= start) {
      text = this.carried.length === 0 ? utf8(chunk, start, closingQuote) : (this.takeText(chunk, start, closingQuote) ?? '');
    } else {
      const bytes = Buffer.concat(this.carried);
      this.carried = [];
      text = bytes.toString('utf8', 0, bytes.length - 1);
    }
    return this.escaped ? text.replaceAll('""', '"') : text;
  }

  private fail(problem: PgCsvProblem): never {
    throw new PgCsvError(problem, messages[problem], this.recordLine, this.record.length);
  }
}
