import { formatDay } from '../../parquet/decode';
import type { CellValue } from '../../schemas/rows';

/**
 * Ids below this are remembered in a bitset rather than a Set: 2^24 bits are 2 MB at most, and
 * the bitset only grows as far as the largest id seen (dim_transaction's 1.3 million ids at
 * 1,000,000 sales orders: 170 KB).
 */
const BITSET_LIMIT = 2 ** 24;

/** Small non-negative integers as bits, grown as far as the largest one seen. */
class SmallIntegers {
  private bits = new Uint32Array(0);

  /** Whether `value` (a small non-negative integer: see fits) was not there before; it is now. */
  add(value: number): boolean {
    const word = value >>> 5;
    if (word >= this.bits.length) this.grow(word);
    const bit = 1 << (value & 31);
    if ((this.bits[word]! & bit) !== 0) return false;
    this.bits[word] = this.bits[word]! | bit;
    return true;
  }

  static fits(value: number): boolean {
    return (value >>> 0) === value && value < BITSET_LIMIT;
  }

  private grow(word: number): void {
    // Doubling keeps the copies few for values that arrive in ascending order.
    const grown = new Uint32Array(Math.max(word + 1, this.bits.length * 2, 64));
    grown.set(this.bits);
    this.bits = grown;
  }
}

/**
 * The distinct non-null values of some columns, gathered as their rows pass: the keys a fact
 * object refers to in one dimension, or the dates it needs in dim_date.
 *
 * It is on the load's hot path, once per row and foreign-key column (nine per sales order), where
 * a Set alone cost about 6% of the load's CPU. Two shortcuts keep most values out of the Set: a
 * value equal to the one in the row before (dates of orders in created order) is skipped, and a
 * small non-negative integer (every id) is a bit in a bitset. A date column read from Parquet
 * comes as days (addDays), and only each new day is formatted as text.
 */
export class DistinctKeys {
  private readonly smallIntegers = new SmallIntegers();
  private readonly integers: number[] = [];
  private readonly others = new Set<CellValue>();
  /** The days addDays has seen: from 1970 on as bits, any other in a Set. */
  private readonly days = new SmallIntegers();
  private readonly otherDays = new Set<number>();

  /** Adds the first `rowCount` values of a column. */
  addColumn(values: ArrayLike<CellValue | undefined>, rowCount: number): void {
    let previous: CellValue | undefined;
    for (let row = 0; row < rowCount; row += 1) {
      const value = values[row];
      if (value === previous) continue;
      previous = value;
      // A NULL refers to nothing, as PostgreSQL's own foreign-key check has it.
      if (value === null || value === undefined) continue;
      if (typeof value === 'number' && SmallIntegers.fits(value)) {
        if (this.smallIntegers.add(value)) this.integers.push(value);
      } else {
        this.others.add(value);
      }
    }
  }

  /**
   * Adds the first `rowCount` dates of a column given as days since 1970-01-01 (a date column's
   * ExactIntegers; `nulls` marks its NULLs): each as its `YYYY-MM-DD` text, as addColumn would
   * add the column's values.
   */
  addDays(days: ArrayLike<number>, nulls: Uint8Array | null, rowCount: number): void {
    let previous = Number.NaN;
    for (let row = 0; row < rowCount; row += 1) {
      if (nulls?.[row] === 1) continue;
      const day = days[row]!;
      if (day === previous) continue;
      previous = day;
      if (this.isNewDay(day)) this.others.add(formatDay(day));
    }
  }

  private isNewDay(day: number): boolean {
    if (SmallIntegers.fits(day)) return this.days.add(day);
    if (this.otherDays.has(day)) return false;
    this.otherDays.add(day);
    return true;
  }

  /** Every distinct value added, in no particular order. */
  values(): CellValue[] {
    return [...this.integers, ...this.others];
  }

  get size(): number {
    return this.integers.length + this.others.size;
  }
}
