import { parquetMetadata, parquetSchema, type ColumnChunk, type FileMetaData, type SchemaElement, type SchemaTree } from 'hyparquet';
import { readColumn } from 'hyparquet/src/column.js';
import { DEFAULT_PARSERS } from 'hyparquet/src/convert.js';
import { getTreePath } from 'hyparquet/src/schema.js';
import type { CellValue, Row } from '../schemas/rows';
import { MICROS_PER_DAY, daysToDate, microsToTime, unscaledToDecimal } from './codec';

/**
 * Reads a Parquet file one row group at a time, column by column, into the rows.ts
 * representation, without a row object per row, so the load holds one row group (10,000 rows)
 * of an object at a time instead of all of it. `decodeParquet` gives the same values as rows.
 *
 * Dates, times and decimals are read as their raw integers (the annotations are stripped before
 * decoding). A date, time or decimal column whose integers all fit a double exactly (|n| < 2^53;
 * every date) is kept as those integers (`exact`), and its text is formatted only if a reader
 * asks for `values` (a date once per distinct day): the load validates and encodes the integers,
 * which spares it a round trip through text for four dates, two times and a decimal per fact
 * row. A column with a larger integer is formatted through BigInt. Money never passes through a
 * float: a double holds an integer below 2^53 exactly.
 */

/** What a column's values were decoded from, so a validator can skip checks the type already guarantees. */
export type DecodedKind =
  /** INT32 without annotation: every value is a 32-bit integer. */
  | { readonly kind: 'int32' }
  /** A DECIMAL formatted with exactly `scale` digits after the point ("19.99", "-0.01", "7"). */
  | { readonly kind: 'decimal'; readonly scale: number }
  /** A DATE (days since 1970-01-01, kept as `exact`) as `YYYY-MM-DD`; one string per distinct day. */
  | { readonly kind: 'date' }
  /** A TIME as `HH:MM:SS.ffffff` (out-of-day values formatted as microsToTime formats them). */
  | { readonly kind: 'time' }
  /** UTF-8 text. */
  | { readonly kind: 'text' }
  /** BOOLEAN. */
  | { readonly kind: 'boolean' }
  /** Anything else, as hyparquet decodes it (bigints as numbers). */
  | { readonly kind: 'other' };

/**
 * A date, time or decimal column as exact integers: days since 1970-01-01 for a date,
 * microseconds of the day for a time, the unscaled integer (19.99 at scale 2 is 1999) for a
 * decimal. Every one is below 2^53 in magnitude, so a double holds it exactly.
 */
export interface ExactIntegers {
  readonly kind: 'date' | 'time' | 'decimal';
  /** Digits after the decimal point (0 for a time). */
  readonly scale: number;
  /** One integer per row; 0 where the value is NULL. */
  readonly integers: Float64Array;
  /** 1 where the value is NULL; null when no value is. */
  readonly nulls: Uint8Array | null;
}

export interface DecodedColumn {
  readonly name: string;
  readonly decoded: DecodedKind;
  /**
   * One value per row of the row group, in the rows.ts representation; `null` or `undefined` is
   * SQL NULL. When `exact` is given, formatted from it on first access.
   */
  readonly values: ArrayLike<CellValue | undefined>;
  /** A time or decimal column's values as integers, when all of them fit a double exactly. */
  readonly exact?: ExactIntegers;
}

export interface DecodedRowGroup {
  /** 0-based index in the file of the group's first row. */
  readonly rowStart: number;
  readonly rowCount: number;
  /** By column name. */
  readonly columns: ReadonlyMap<string, DecodedColumn>;
}

export interface ParquetRowGroups {
  /** Every column of the schema, in file order. */
  readonly columns: readonly string[];
  readonly rowCount: number;
  /**
   * Decodes the row groups in file order. A group is valid only until the next is asked for:
   * its integer arrays (`exact.integers`, a column's Int32Array) are reused for the next one
   * (see ColumnScratch). Given `only`, a group holds just those columns, and no other column
   * chunk is decoded.
   */
  rowGroups(only?: readonly string[]): AsyncGenerator<DecodedRowGroup>;
}

interface ColumnPlan {
  readonly name: string;
  readonly decoded: DecodedKind;
}

const TWO_POW_32 = 4_294_967_296;
/** |high word| below 2^21: the int64 is below 2^53 in magnitude, exact in a double. */
const SAFE_HIGH_WORD = 2_097_152;

/** Which columns are read as raw integers (decimals, times, dates) and formatted here, and what each column's values guarantee. */
function planColumn(element: SchemaElement): { plan: ColumnPlan; raw: SchemaElement } {
  const { name } = element;
  if (element.converted_type === 'DECIMAL') {
    const { converted_type: _c, logical_type: _l, scale: _s, precision: _p, ...raw } = element;
    return { plan: { name, decoded: { kind: 'decimal', scale: element.scale ?? 0 } }, raw };
  }
  if (element.converted_type === 'TIME_MICROS' || element.logical_type?.type === 'TIME') {
    const { converted_type: _c, logical_type: _l, ...raw } = element;
    return { plan: { name, decoded: { kind: 'time' } }, raw };
  }
  if (element.converted_type === 'DATE') {
    const { converted_type: _c, logical_type: _l, ...raw } = element;
    return { plan: { name, decoded: { kind: 'date' } }, raw };
  }
  const annotated = element.converted_type !== undefined || element.logical_type !== undefined;
  if (element.type === 'INT32' && !annotated) return { plan: { name, decoded: { kind: 'int32' } }, raw: element };
  if (element.type === 'BOOLEAN') return { plan: { name, decoded: { kind: 'boolean' } }, raw: element };
  if (element.type === 'BYTE_ARRAY' && (element.converted_type === 'UTF8' || element.logical_type?.type === 'STRING' || !annotated)) {
    return { plan: { name, decoded: { kind: 'text' } }, raw: element };
  }
  return { plan: { name, decoded: { kind: 'other' } }, raw: element };
}

/**
 * Reads the footer. Throws when the bytes are not a Parquet file; values are decoded (and may
 * still turn out unreadable) only as `rowGroups()` reaches them.
 */
export function openParquet(bytes: Uint8Array): ParquetRowGroups {
  const metadata: FileMetaData = parquetMetadata(bytes);
  const plans: ColumnPlan[] = [];
  const schema = metadata.schema.map((element, index) => {
    if (index === 0) return element;
    const { plan, raw } = planColumn(element);
    plans.push(plan);
    return raw;
  });
  const rawTree = parquetSchema({ ...metadata, schema });
  return {
    columns: plans.map((plan) => plan.name),
    rowCount: Number(metadata.num_rows),
    async *rowGroups(only) {
      const wanted = only === undefined ? plans : only.map((name) => {
        const plan = plans.find((each) => each.name === name);
        if (!plan) throw new Error(`the file has no column ${name}`);
        return plan;
      });
      const names = new Set(wanted.map((plan) => plan.name));
      // Shared by every row group: a date repeats across the whole file.
      const dates = new Map<number, string>();
      const scratch = new ColumnScratch();
      let rowStart = 0;
      for (const group of metadata.row_groups) {
        const rowCount = Number(group.num_rows);
        const raw = readRowGroup(bytes, rawTree, group.columns, names, rowStart, rowCount);
        const columns = new Map<string, DecodedColumn>();
        for (const plan of wanted) {
          const values = raw.get(plan.name) ?? [];
          if (values.length !== rowCount) throw new Error(`column ${plan.name} has ${values.length} values in a row group of ${rowCount} rows`);
          columns.set(plan.name, decodedColumn(plan, values, dates, scratch));
        }
        yield { rowStart, rowCount, columns };
        rowStart += rowCount;
      }
    },
  };
}

type RawValues = ArrayLike<unknown>;

/**
 * The integer arrays of one pass over a file's row groups, one of each kind per column, reused
 * from one row group to the next. Allocated per row group, they were most of what the load
 * allocated outside V8's heap: about 94 MB per process over a 1,000,000-order initial load
 * (Float64Arrays of exact integers 68 MB, Int32Arrays of ids 26 MB, in pieces of 40–80 KB),
 * each piece malloc'd and freed again by the next collection, which left glibc's heap holding
 * more memory the longer a process ran (README, Performance).
 */
class ColumnScratch {
  private readonly doubles = new Map<string, Float64Array>();
  private readonly ints = new Map<string, Int32Array>();

  float64(name: string, length: number): Float64Array {
    return ColumnScratch.take(this.doubles, name, length, (size) => new Float64Array(size));
  }

  int32(name: string, length: number): Int32Array {
    return ColumnScratch.take(this.ints, name, length, (size) => new Int32Array(size));
  }

  private static take<T extends Float64Array | Int32Array>(held: Map<string, T>, name: string, length: number, allocate: (size: number) => T): T {
    let array = held.get(name);
    if (!array || array.length < length) {
      array = allocate(length);
      held.set(name, array);
    }
    return array.subarray(0, length) as T;
  }
}

/**
 * Decodes each wanted column chunk of a row group straight from the file's bytes. hyparquet's
 * parquetRead copies every byte twice on the way (the row group's range, then each column's
 * range out of that), about 100 MB per load process over a 1,000,000-order initial load, all of
 * it outside the V8 heap and freed only by a full collection (README, Performance). Its page
 * reader takes a view of the chunk instead; plain values may be views of the file's bytes too,
 * which the caller keeps until the object is loaded. The page reader and its helpers come through
 * the package's `./src/*.js` export rather than its index; hyparquet's version is pinned, and the
 * decode and load tests read every column type through them.
 */
function readRowGroup(bytes: Uint8Array, tree: SchemaTree, chunks: readonly ColumnChunk[], wanted: ReadonlySet<string>, rowStart: number, rowCount: number): Map<string, RawValues> {
  const columns = new Map<string, RawValues>();
  for (const chunk of chunks) {
    const meta = chunk.meta_data;
    if (!meta || chunk.file_path) throw new Error('a column chunk without metadata, or in another file');
    const name = meta.path_in_schema.join('.');
    if (!wanted.has(name)) continue;
    const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
    const length = Number(meta.total_compressed_size);
    if (!(start >= 0 && length >= 0 && start + length <= bytes.byteLength)) {
      throw new Error(`column ${name}: its chunk (bytes ${start} to ${start + length}) is outside the file's ${bytes.byteLength} bytes`);
    }
    const schemaPath = getTreePath(tree, meta.path_in_schema);
    const element = schemaPath[schemaPath.length - 1]!.element;
    const reader = { view: new DataView(bytes.buffer, bytes.byteOffset + start, length), offset: 0 };
    const select = { groupStart: rowStart, selectStart: 0, selectEnd: rowCount, groupRows: rowCount };
    const decoder = { pathInSchema: meta.path_in_schema, type: meta.type, element, schemaPath, codec: meta.codec, parsers: DEFAULT_PARSERS, utf8: true };
    const { data: pages } = readColumn(reader, select, decoder);
    columns.set(name, joinPages(pages));
  }
  return columns;
}

/** A column's pages in row order, as one array (no copy when there is one page). */
function joinPages(pages: readonly RawValues[]): RawValues {
  if (pages.length === 1) return pages[0]!;
  const joined: unknown[] = [];
  for (const page of pages) for (let index = 0; index < page.length; index += 1) joined.push(page[index]);
  return joined;
}

/**
 * A column of a row group; a date, time or decimal column as exact integers where it can be,
 * formatted only when asked. A date column is always exact (an INT32 is far below 2^53): the
 * load encodes and checks its days, and formats only the few distinct days it needs as text.
 * Formatted on decoding, each fact date column was an array of strings per row group, which
 * lived long enough to be promoted to V8's old generation (README, Performance).
 */
function decodedColumn(plan: ColumnPlan, raw: RawValues, dates: Map<number, string>, scratch: ColumnScratch): DecodedColumn {
  const { name, decoded } = plan;
  const exact = decoded.kind === 'time' || decoded.kind === 'decimal' || decoded.kind === 'date' ? exactIntegers(decoded, raw, scratch.float64(name, raw.length)) : undefined;
  if (!exact) return { name, decoded, values: convert(decoded, raw, dates, () => scratch.int32(name, raw.length)) };
  let formatted: CellValue[] | undefined;
  return {
    name,
    decoded,
    exact,
    get values() {
      formatted ??= formatExact(exact, dates);
      return formatted;
    },
  };
}

/**
 * The column's integers as doubles, written into `integers` (one per row, from the scratch), or
 * undefined when one of them is 2^53 or more in magnitude (or is not an integer at all): such a
 * column keeps the BigInt path. A plain INT64 column arrives as a BigInt64Array, whose two
 * 32-bit halves are read directly, so no BigInt is made per value.
 */
function exactIntegers(decoded: DecodedKind & { kind: 'date' | 'time' | 'decimal' }, raw: RawValues, integers: Float64Array): ExactIntegers | undefined {
  const scale = decoded.kind === 'decimal' ? decoded.scale : 0;
  let nulls: Uint8Array | null = null;
  if (raw instanceof BigInt64Array) {
    const words = new Int32Array(raw.buffer, raw.byteOffset, raw.length * 2);
    for (let index = 0; index < raw.length; index += 1) {
      const high = words[2 * index + 1]!;
      if (high < -SAFE_HIGH_WORD || high >= SAFE_HIGH_WORD) return undefined;
      integers[index] = high * TWO_POW_32 + (words[2 * index]! >>> 0);
    }
    return { kind: decoded.kind, scale, integers, nulls };
  }
  for (let index = 0; index < raw.length; index += 1) {
    const value = raw[index];
    if (value === null || value === undefined) {
      nulls ??= new Uint8Array(raw.length);
      nulls[index] = 1;
      // The scratch holds the last row group's integer here.
      integers[index] = 0;
    } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
      integers[index] = value;
    } else if (typeof value === 'bigint' && value >= -9_007_199_254_740_991n && value <= 9_007_199_254_740_991n) {
      integers[index] = Number(value);
    } else {
      return undefined;
    }
  }
  return { kind: decoded.kind, scale, integers, nulls };
}

/** Exact integers as rows.ts text, exactly as the BigInt path (or, for a date, convert) formats them. */
function formatExact({ kind, scale, integers, nulls }: ExactIntegers, dates: Map<number, string>): CellValue[] {
  const values = new Array<CellValue>(integers.length);
  for (let index = 0; index < integers.length; index += 1) {
    if (nulls?.[index] === 1) values[index] = null;
    else if (kind === 'date') values[index] = dateText(integers[index]!, dates);
    else values[index] = kind === 'time' ? formatMicros(integers[index]!) : formatUnscaled(integers[index]!, scale);
  }
  return values;
}

/** A day as `YYYY-MM-DD`, one string per distinct day of the file. */
function dateText(day: number, dates: Map<number, string>): string {
  let text = dates.get(day);
  if (text === undefined) {
    text = formatDay(day);
    dates.set(day, text);
  }
  return text;
}

/** JavaScript's dates reach 100,000,000 days either side of 1970-01-01. */
const MAX_JS_DAYS = 100_000_000;

/**
 * Days since 1970-01-01 → `YYYY-MM-DD`, as daysToDate formats them. A day beyond JavaScript's
 * dates (only a damaged file has one) is described instead, for the validator to refuse with
 * its row and column.
 */
export function formatDay(day: number): string {
  return Math.abs(day) <= MAX_JS_DAYS ? daysToDate(day) : `${day} days from 1970-01-01`;
}

function convert(decoded: DecodedKind, raw: RawValues, dates: Map<number, string>, int32Scratch: () => Int32Array): ArrayLike<CellValue | undefined> {
  switch (decoded.kind) {
    case 'int32':
      return int32Values(raw, int32Scratch);
    case 'text':
    case 'boolean':
      // Already in the rows.ts representation: no copy.
      return raw as ArrayLike<CellValue | undefined>;
    // Only a column that exactIntegers refused gets here: a value that is not an integer. INT32
    // never gives one, so this is a file whose date column is not what its annotation says.
    case 'date':
      return mapValues(raw, (days) => dateText(Number(days), dates));
    // Only a column that exactIntegers refused gets here: one of its integers is beyond a
    // double's exact range, so every value goes through BigInt. Whatever BigInt() refuses (a
    // byte-array decimal, a fraction) fails here: such a file is unreadable.
    case 'time':
      return mapValues(raw, (micros) => microsToTime(BigInt(micros as bigint | number)));
    case 'decimal': {
      const { scale } = decoded;
      return mapValues(raw, (unscaled) => unscaledToDecimal(BigInt(unscaled as bigint | number), scale));
    }
    case 'other':
      return mapValues(raw, (value) => (typeof value === 'bigint' ? Number(value) : (value as CellValue)));
  }
}

/**
 * An INT32 column without NULLs as an Int32Array. hyparquet gives a dictionary-encoded column
 * (most ids of a fact) as two JavaScript arrays, the indices and the values looked up, and those
 * lived as long as the row group: long enough for V8 to promote them to the old generation.
 * Copied at once, they die young; the copy goes into the pass's reused Int32Array
 * (ColumnScratch), so it allocates nothing.
 */
function int32Values(raw: RawValues, scratch: () => Int32Array): ArrayLike<CellValue | undefined> {
  if (raw instanceof Int32Array) return raw;
  // One pass that copies while it checks (Int32Array.from walks an array through its iterator).
  const integers = scratch();
  for (let index = 0; index < raw.length; index += 1) {
    const value = raw[index];
    if (typeof value !== 'number') return raw as ArrayLike<CellValue | undefined>;
    integers[index] = value;
  }
  return integers;
}

function mapValues(raw: RawValues, each: (value: unknown) => CellValue): CellValue[] {
  const values = new Array<CellValue>(raw.length);
  for (let index = 0; index < raw.length; index += 1) {
    const value = raw[index];
    values[index] = value === null || value === undefined ? null : each(value);
  }
  return values;
}

/** Two-digit strings 00–59, so a time is formatted without padding calls. */
const TWO_DIGITS = Array.from({ length: 60 }, (_, value) => String(value).padStart(2, '0'));

/** Micros of a day → `HH:MM:SS.ffffff`, exactly as microsToTime formats it. */
export function formatMicros(micros: number): string {
  if (!(micros >= 0 && micros < MICROS_PER_DAY)) return microsToTime(BigInt(micros));
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = micros - seconds * 1_000_000;
  const minutes = Math.floor(seconds / 60);
  return `${TWO_DIGITS[Math.floor(minutes / 60)]}:${TWO_DIGITS[minutes % 60]}:${TWO_DIGITS[seconds % 60]}.${String(fraction + 1_000_000).slice(1)}`;
}

/** An unscaled integer below 2^53 → its decimal text, exactly as unscaledToDecimal formats it. */
export function formatUnscaled(unscaled: number, scale: number): string {
  const negative = unscaled < 0;
  // A safe integer prints as plain digits (no exponent below 1e21).
  let digits = String(negative ? -unscaled : unscaled);
  if (scale === 0) return negative ? `-${digits}` : digits;
  if (digits.length <= scale) digits = '0'.repeat(scale + 1 - digits.length) + digits;
  const point = digits.length - scale;
  return `${negative ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/**
 * A whole file as rows, in the rows.ts representation (for tests and tools: the load reads one
 * row group at a time and never holds a whole file).
 */
export async function decodeParquet(bytes: Uint8Array): Promise<{ columns: string[]; rows: Row[] }> {
  const file = openParquet(bytes);
  const rows: Row[] = [];
  for await (const group of file.rowGroups()) {
    const columns = file.columns.map((name) => [name, group.columns.get(name)!.values] as const);
    for (let index = 0; index < group.rowCount; index += 1) {
      const row: Row = {};
      for (const [name, values] of columns) row[name] = values[index] ?? null;
      rows.push(row);
    }
  }
  return { columns: [...file.columns], rows };
}
