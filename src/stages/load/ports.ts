import type { ExactIntegers } from '../../parquet/decode';
import type { ColumnDef } from '../../schemas/columns';
import type { CellValue, Row } from '../../schemas/rows';
import type { DimensionDef, FactDef } from '../../schemas/warehouse';

/** Rows held column by column: one array per column of `RowBatches.columns`, in that order. */
export interface RowBatch {
  readonly rowCount: number;
  /**
   * In the rows.ts representation; `null` or `undefined` is SQL NULL. The values of a column
   * that `exact` gives may be formatted only when first read.
   */
  readonly values: ReadonlyArray<ArrayLike<CellValue | undefined>>;
  /**
   * Per column, the same values as exact integers, for a date, time or decimal column read from
   * Parquet (see ExactIntegers): a writer that can use them need not parse the text of `values`.
   */
  readonly exact?: ReadonlyArray<ExactIntegers | undefined>;
}

/**
 * An object's rows as they are read, batch by batch (one Parquet row group each), so the
 * warehouse streams them into COPY without ever holding the whole object. Each read starts
 * from the first batch again (decoding anew): the PostgreSQL warehouse reads a fact object a
 * second time when its one-pass COPY gives way to the staged path. Reading may throw, e.g. an
 * InvalidInputError for a bad value in a later batch: the warehouse then rolls back everything
 * of this object and rethrows that error.
 */
export interface RowBatches extends AsyncIterable<RowBatch> {
  /** The columns of every batch, in the rows.ts representation. */
  readonly columns: readonly ColumnDef[];
  /** Rows in all batches together, known before reading (from the Parquet footer). */
  readonly rowCount: number;
  /**
   * The same rows with only the named columns of `columns`, in the order named. Read from
   * Parquet, only those columns are decoded, so a second read of a few columns costs a fraction
   * of the first: the PostgreSQL warehouse reads a new dimension object's keys and versions again
   * for its version table instead of holding them while the dimension's own COPY runs.
   */
  select(names: readonly string[]): RowBatches;
}

/**
 * The warehouse as the load stage sees it. Each call applies one Parquet object in one
 * transaction, together with its `totes.load_log` entry: completely or not at all.
 */
export interface ApplyMeta {
  /** The processed object the rows come from; recorded in the load log. */
  readonly key: string;
}

export interface FactApplyMeta extends ApplyMeta {
  /**
   * An earlier delivery of this object failed (its message comes back): most likely it waits for
   * a dimension row, or some of its rows are in already. A warehouse may then skip a path that
   * only pays off when every row is new and every reference is there.
   */
  readonly redelivered?: boolean;
  /**
   * dim_date rows for every date the facts refer to, inserted in the same transaction before the
   * facts. Complete only once the fact rows have been read to the end, so asked for after that.
   */
  readonly dates: () => readonly Row[];
}

/** Dimension rows a fact file refers to that the warehouse does not have (yet). */
export interface MissingReference {
  /** The dimension table, e.g. `dim_staff`. */
  readonly table: string;
  /** The dimension's key column, e.g. `staff_id`. */
  readonly column: string;
  /** The fact column that refers to it, e.g. `sales_staff_id`. */
  readonly factColumn: string;
  /** The missing keys, in ascending order. */
  readonly ids: readonly string[];
  /** How many fact rows refer to one of them. */
  readonly rows: number;
}

export type FactApplyOutcome =
  | { readonly status: 'applied'; readonly rowsApplied: number }
  /** Nothing was written: the transaction rolled back because dimension rows are missing. */
  | { readonly status: 'waiting'; readonly missing: readonly MissingReference[] };

export interface Warehouse {
  /** Inserts fact versions not yet present (same source id and last_updated are absorbed). */
  applyFacts(table: FactDef, rows: RowBatches, meta: FactApplyMeta): Promise<FactApplyOutcome>;
  /** Upserts the rows whose `_source_version` is newer than the one applied before. */
  applyDimension(table: DimensionDef, rows: RowBatches, meta: ApplyMeta): Promise<{ rowsApplied: number }>;
  /** Inserts dim_date rows that are missing. */
  applyDates(rows: RowBatches, meta: ApplyMeta): Promise<{ rowsApplied: number }>;
}
