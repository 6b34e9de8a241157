import type { Row } from '../../schemas/rows';
import type { DimensionDef, FactDef } from '../../schemas/warehouse';

/**
 * The warehouse as the load stage sees it. Each call applies one Parquet object in one
 * transaction, together with its `totes.load_log` entry: completely or not at all.
 */
export interface ApplyMeta {
  /** The processed object the rows come from; recorded in the load log. */
  readonly key: string;
}

export interface FactApplyMeta extends ApplyMeta {
  /** dim_date rows for every date the facts refer to, inserted first in the same transaction. */
  readonly dates: readonly Row[];
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
  applyFacts(table: FactDef, rows: readonly Row[], meta: FactApplyMeta): Promise<FactApplyOutcome>;
  /** Upserts the rows whose `_source_version` is newer than the one applied before. */
  applyDimension(table: DimensionDef, rows: readonly Row[], meta: ApplyMeta): Promise<{ rowsApplied: number }>;
  /** Inserts dim_date rows that are missing. */
  applyDates(rows: readonly Row[], meta: ApplyMeta): Promise<{ rowsApplied: number }>;
}
