import type { CellValue } from '../../schemas/rows';

/**
 * Ids below this are remembered in a bitset rather than a Set: 2^24 bits are 2 MB at most, and
 * the bitset only grows as far as the largest id seen (dim_transaction's 1.3 million ids at
 * 1,000,000 sales orders: 170 KB).
 */
const BITSET_LIMIT = 2 ** 24;

/**
 * The distinct non-null values of some columns, gathered as their rows pass: the keys a fact
 * object refers to in one dimension, or the dates it needs in dim_date.
 *
 * It is on the load's hot path, once per row and foreign-key column (nine per sales order), where
 * a Set alone cost about 6% of the load's CPU. Two shortcuts keep most values out of the Set: a
 * value equal to the one in the row before (dates of orders in created order) is skipped, and a
 * small non-negative integer (every id) is a bit in a bitset.
 */
export class DistinctKeys {
  private bits = new Uint32Array(0);
  private readonly integers: number[] = [];
  private readonly others = new Set<CellValue>();

  /** Adds the first `rowCount` values of a column. */
  addColumn(values: ArrayLike<CellValue | undefined>, rowCount: number): void {
    let previous: CellValue | undefined;
    for (let row = 0; row < rowCount; row += 1) {
      const value = values[row];
      if (value === previous) continue;
      previous = value;
      // A NULL refers to nothing, as PostgreSQL's own foreign-key check has it.
      if (value === null || value === undefined) continue;
      if (typeof value === 'number' && (value >>> 0) === value && value < BITSET_LIMIT) this.addInteger(value);
      else this.others.add(value);
    }
  }

  /** Every distinct value added, in no particular order. */
  values(): CellValue[] {
    return [...this.integers, ...this.others];
  }

  get size(): number {
    return this.integers.length + this.others.size;
  }

  private addInteger(value: number): void {
    const word = value >>> 5;
    if (word >= this.bits.length) this.grow(word);
    const bit = 1 << (value & 31);
    if ((this.bits[word]! & bit) !== 0) return;
    this.bits[word] = this.bits[word]! | bit;
    this.integers.push(value);
  }

  private grow(word: number): void {
    // Doubling keeps the copies few for ids that arrive in ascending order.
    const grown = new Uint32Array(Math.max(word + 1, this.bits.length * 2, 64));
    grown.set(this.bits);
    this.bits = grown;
  }
}
