import type { ParquetEncoder, PhysicalValue } from '../../parquet/codec';
import type { ColumnDef } from '../../schemas/columns';
import type { Row } from '../../schemas/rows';
import { SOURCE_VERSION_COLUMN } from '../../schemas/warehouse';

/** Distinct values of one text column worth sharing; past this many the column is left alone. */
const MAX_SHARED_VALUES = 1024;

/**
 * The rows of one dimension file in the making, held column by column until {@link encode} keeps
 * the newest version of each key, in key order.
 *
 * A dimension object is held whole (its rows are deduplicated and sorted before encoding), and a
 * 100,000-row transaction object held a Map entry, a row object and its own copy of every text
 * per row. As columns it is one array slot per value, and text that repeats (a transaction type)
 * is one shared string: a third of the memory, which matters when two such objects are in flight.
 */
export class LatestRows {
  private readonly values: PhysicalValue[][];
  private readonly shared: Array<Map<string, string> | null>;
  private readonly keyIndex: number;
  private readonly versionIndex: number;
  private count = 0;

  constructor(private readonly columns: readonly ColumnDef[], keyColumn: string) {
    for (const column of columns) {
      // Rows come in the rows.ts representation, which is the physical one only for these kinds.
      if (column.type.kind !== 'int' && column.type.kind !== 'text' && column.type.kind !== 'boolean') {
        throw new Error(`column ${column.name} (${column.type.kind}) would need converting; LatestRows holds int, text and boolean columns`);
      }
    }
    this.keyIndex = columns.findIndex((column) => column.name === keyColumn);
    this.versionIndex = columns.findIndex((column) => column.name === SOURCE_VERSION_COLUMN);
    if (this.keyIndex < 0 || this.versionIndex < 0) throw new Error(`LatestRows needs the key ${keyColumn} and ${SOURCE_VERSION_COLUMN} among its columns`);
    this.values = columns.map(() => []);
    // Versions are all but unique: sharing them would only fill the map.
    this.shared = columns.map((column, index) => (column.type.kind === 'text' && index !== this.versionIndex ? new Map() : null));
  }

  get size(): number {
    return this.count;
  }

  /** Holds one row (in the dimension's columns, with its source version). */
  add(row: Row): void {
    for (let index = 0; index < this.columns.length; index += 1) {
      let value: PhysicalValue = row[this.columns[index]!.name] ?? null;
      if (typeof value === 'string') value = this.share(index, value);
      this.values[index]!.push(value);
    }
    this.count += 1;
  }

  private share(index: number, value: string): string {
    const shared = this.shared[index];
    if (!shared) return value;
    const held = shared.get(value);
    if (held !== undefined) return held;
    if (shared.size >= MAX_SHARED_VALUES) this.shared[index] = null;
    else shared.set(value, value);
    return value;
  }

  /**
   * Pushes into `encoder`, in key order, the newest version of each key: the highest source
   * version, and of equal ones the last read (what "replace unless the held one is newer" keeps
   * row by row). Returns the number of rows pushed.
   */
  encode(encoder: ParquetEncoder): number {
    const keys = this.values[this.keyIndex] as number[];
    const versions = this.values[this.versionIndex] as string[];
    const order = Array.from({ length: this.count }, (_, slot) => slot);
    // Extracts come in key order, so this is mostly one run for the sort to find.
    order.sort((a, b) => keys[a]! - keys[b]! || (versions[a]! < versions[b]! ? -1 : versions[a]! > versions[b]! ? 1 : a - b));
    const row = new Array<PhysicalValue>(this.columns.length);
    let pushed = 0;
    for (let position = 0; position < order.length; position += 1) {
      const slot = order[position]!;
      const next = order[position + 1];
      if (next !== undefined && keys[next] === keys[slot]) continue;
      for (let index = 0; index < row.length; index += 1) row[index] = this.values[index]![slot] ?? null;
      encoder.pushPhysical(row);
      pushed += 1;
    }
    return pushed;
  }
}
