import type { ParquetEncoder, PhysicalValue } from '../../parquet/codec';
import type { ColumnDef } from '../../schemas/columns';
import type { Row } from '../../schemas/rows';
import { SOURCE_VERSION_COLUMN } from '../../schemas/warehouse';

/** Distinct values of one text column worth sharing; past this many the column is left alone. */
const MAX_SHARED_VALUES = 1024;
/** A normalised source timestamp, `YYYY-MM-DD HH:MM:SS.ffffff`: ASCII, so as many bytes. */
const VERSION_BYTES = 26;
const INITIAL_CAPACITY = 1024;

/**
 * How one column is held: an int in an Int32Array, a nullable int in a Float64Array (NaN for
 * NULL), the version as its bytes, anything else (text, shared where it repeats; boolean) as is.
 */
type Store =
  | { readonly kind: 'int'; values: Int32Array }
  | { readonly kind: 'nullableInt'; values: Float64Array }
  | { readonly kind: 'version'; bytes: Buffer }
  | { readonly kind: 'value'; readonly values: PhysicalValue[]; shared: Map<string, string> | null };

/**
 * The rows of one dimension file in the making, held column by column until {@link encode} keeps
 * the newest version of each key, in key order.
 *
 * A dimension object is held whole (its rows are deduplicated and sorted before encoding), and a
 * 100,000-row transaction object held a Map entry, a row object and its own strings per row
 * (~240 bytes, 112 MB per 133,333 rows with the source rows before). Here a row is 4 bytes of id,
 * 8 per nullable int, 26 of version, all outside the JS heap, and a slot per text value, text that
 * repeats (a transaction type) being one shared string: ~55 bytes. That mattered while two such
 * objects could be in flight in one process. The versions go to the encoder as their bytes, which the
 * Parquet writer takes as they are instead of encoding a string per row.
 */
export class LatestRows {
  private readonly stores: Store[];
  private readonly keyIndex: number;
  private readonly versionIndex: number;
  private capacity = INITIAL_CAPACITY;
  private count = 0;

  constructor(private readonly columns: readonly ColumnDef[], keyColumn: string) {
    this.keyIndex = columns.findIndex((column) => column.name === keyColumn);
    this.versionIndex = columns.findIndex((column) => column.name === SOURCE_VERSION_COLUMN);
    if (this.keyIndex < 0 || this.versionIndex < 0) throw new Error(`LatestRows needs the key ${keyColumn} and ${SOURCE_VERSION_COLUMN} among its columns`);
    if (columns[this.keyIndex]!.type.kind !== 'int' || columns[this.keyIndex]!.nullable) throw new Error(`the key ${keyColumn} must be a NOT NULL int`);
    this.stores = columns.map((column, index): Store => {
      const kind = column.type.kind;
      // Rows come in the rows.ts representation, which is the physical one only for these kinds.
      if (kind !== 'int' && kind !== 'text' && kind !== 'boolean') {
        throw new Error(`column ${column.name} (${kind}) would need converting; LatestRows holds int, text and boolean columns`);
      }
      if (index === this.versionIndex) return { kind: 'version', bytes: Buffer.alloc(INITIAL_CAPACITY * VERSION_BYTES) };
      if (kind === 'int') return column.nullable ? { kind: 'nullableInt', values: new Float64Array(INITIAL_CAPACITY) } : { kind: 'int', values: new Int32Array(INITIAL_CAPACITY) };
      return { kind: 'value', values: [], shared: kind === 'text' ? new Map() : null };
    });
  }

  get size(): number {
    return this.count;
  }

  /** Holds one row (in the dimension's columns, with its source version: a normalised timestamp). */
  add(row: Row): void {
    const slot = this.count;
    if (slot === this.capacity) this.grow();
    for (let index = 0; index < this.columns.length; index += 1) {
      const value = row[this.columns[index]!.name] ?? null;
      const store = this.stores[index]!;
      switch (store.kind) {
        case 'int':
          if (typeof value !== 'number' || (value | 0) !== value) throw this.notA(index, value, 'a 32-bit integer');
          store.values[slot] = value;
          break;
        case 'nullableInt':
          if (value !== null && (typeof value !== 'number' || (value | 0) !== value)) throw this.notA(index, value, 'a 32-bit integer or NULL');
          store.values[slot] = value ?? Number.NaN;
          break;
        case 'version':
          if (typeof value !== 'string' || value.length !== VERSION_BYTES) throw this.notA(index, value, 'a normalised timestamp');
          // latin1 writes one byte per character; a normalised timestamp is ASCII.
          store.bytes.write(value, slot * VERSION_BYTES, VERSION_BYTES, 'latin1');
          break;
        case 'value':
          // By slot, not pushed: a row refused half-way is overwritten by the next one.
          store.values[slot] = typeof value === 'string' ? this.share(store, value) : value;
          break;
      }
    }
    this.count = slot + 1;
  }

  private notA(index: number, value: unknown, what: string): Error {
    return new Error(`column ${this.columns[index]!.name}: ${JSON.stringify(value)} is not ${what}`);
  }

  private share(store: Store & { kind: 'value' }, value: string): string {
    const shared = store.shared;
    if (!shared) return value;
    const held = shared.get(value);
    if (held !== undefined) return held;
    if (shared.size >= MAX_SHARED_VALUES) store.shared = null;
    else shared.set(value, value);
    return value;
  }

  private grow(): void {
    // By half, not double: an object's rows are held to its end, so slack is memory held too.
    const capacity = Math.ceil(this.capacity * 1.5);
    for (const store of this.stores) {
      if (store.kind === 'int') store.values = grown(new Int32Array(capacity), store.values);
      else if (store.kind === 'nullableInt') store.values = grown(new Float64Array(capacity), store.values);
      else if (store.kind === 'version') store.bytes = grown(Buffer.alloc(capacity * VERSION_BYTES), store.bytes);
    }
    this.capacity = capacity;
  }

  /**
   * Pushes into `encoder`, in key order, the newest version of each key: the highest source
   * version, and of equal ones the last read (what "replace unless the held one is newer" keeps
   * row by row). Returns the number of rows pushed.
   */
  encode(encoder: ParquetEncoder): number {
    const keys = (this.stores[this.keyIndex] as Store & { kind: 'int' }).values;
    const versions = (this.stores[this.versionIndex] as Store & { kind: 'version' }).bytes;
    // Normalised timestamps compare as their bytes; only rows of one key are ever compared.
    const compareVersions = (a: number, b: number) =>
      versions.compare(versions, b * VERSION_BYTES, (b + 1) * VERSION_BYTES, a * VERSION_BYTES, (a + 1) * VERSION_BYTES);
    const order = Array.from({ length: this.count }, (_, slot) => slot);
    // Extracts come in key order, so this is mostly one run for the sort to find.
    order.sort((a, b) => keys[a]! - keys[b]! || compareVersions(a, b) || a - b);
    const row = new Array<PhysicalValue>(this.columns.length);
    let pushed = 0;
    for (let position = 0; position < order.length; position += 1) {
      const slot = order[position]!;
      const next = order[position + 1];
      if (next !== undefined && keys[next] === keys[slot]) continue;
      for (let index = 0; index < row.length; index += 1) row[index] = this.valueAt(index, slot);
      encoder.pushPhysical(row);
      pushed += 1;
    }
    return pushed;
  }

  private valueAt(index: number, slot: number): PhysicalValue {
    const store = this.stores[index]!;
    switch (store.kind) {
      case 'int':
        return store.values[slot]!;
      case 'nullableInt': {
        const value = store.values[slot]!;
        return Number.isNaN(value) ? null : value;
      }
      case 'version':
        return store.bytes.subarray(slot * VERSION_BYTES, (slot + 1) * VERSION_BYTES);
      case 'value':
        return store.values[slot] ?? null;
    }
  }
}

function grown<T extends Int32Array | Float64Array | Buffer>(into: T, from: T): T {
  into.set(from);
  return into;
}
