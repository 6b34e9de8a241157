import type { Row } from '../../schemas/rows';

/**
 * Where the transform's state lives, and why.
 *
 * `dim_staff` joins staff with department, and `dim_counterparty` joins counterparty with
 * address. Each ingestion object holds rows of one source table only, and only the rows that
 * changed, so the transform of a staff object must find the departments somewhere, and a
 * department's change must reach the staff already built from it. That somewhere is a DynamoDB
 * table (`STATE_TABLE`; hash key `table` (S), range key `id` (N)) holding the latest version of
 * every `address`, `department`, `staff` and `counterparty` row, the validated row itself plus
 * its `last_updated`. It sits outside both buckets and the warehouse on purpose: the transform
 * must not depend on the load having run, nor read back its own Parquet output.
 *
 * The rules that make the result independent of arrival order, redelivery and re-extraction:
 * 1. Writes are conditional (`attribute_not_exists(id) OR last_updated <= :v`): a newer version
 *    is never replaced by an older one, and the same version may be written again (a redrive or
 *    a watermark reset re-extracting everything is a no-op).
 * 2. A transform first writes its own rows, then reads (strongly consistent) the rows it joins
 *    with. Of two transforms racing (a staff row and its department), the one whose write came
 *    second reads the other's, so at least one of them emits the joined row.
 * 3. A row whose partner is not known yet (staff of an unseen department, counterparty of an
 *    unseen address) emits nothing: the partner's arrival emits it.
 * 4. Every dimension row carries `_source_version`: the primary row's `last_updated`, then `|`
 *    and the joined row's (`staff|department`, `counterparty|address`). Normalised timestamps
 *    compare as text, and the load keeps the highest, so an older or half-joined version
 *    emitted along the way can never replace the newest one.
 *
 * The tables are small (tens of rows in totesys), so a join reads a whole table with one query.
 */
export type StateTableName = 'address' | 'department' | 'staff' | 'counterparty';

export interface SourceStateStore {
  /**
   * Stores each row as the latest version of (table, id) unless a strictly newer
   * `last_updated` is already stored. Rows carry `last_updated` normalised.
   */
  putLatest(table: StateTableName, idColumn: string, rows: readonly Row[]): Promise<void>;
  /** Every stored row of a table, read strongly consistent so it sees writes that finished. */
  readAll(table: StateTableName): Promise<Row[]>;
}
