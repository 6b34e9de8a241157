/**
 * The extract's settings and their defaults: the one place the defaults are written. The handler
 * configuration (src/config.ts) and the local stack read them from here, and a test holds the
 * deployment's defaults (infra/stack.cjs) to the same values. A module of its own, so that every
 * function's bundle can read the defaults without the extract stage.
 */
export interface ExtractSettings {
  /** How far behind the watermark a late-committing row is still captured. */
  readonly lateCommitWindowSeconds: number;
  readonly maxRowsPerObject: number;
  /** Must exceed the Lambda timeout, so a lease never expires under a run that is still working. */
  readonly leaseSeconds: number;
  /** Cap on remembered versions per table (default 5,000, which keeps the item far below 400 KB). */
  readonly maxRecentVersions?: number;
  /**
   * Tables read at once, each on its own connection (default 2, the source pool's size). Two
   * read-only snapshots are a light load for the OLTP source, and they keep both PostgreSQL's
   * COPY and the uploads busy: an initial load of 1,000,000 sales orders spends most of its time
   * in four big tables.
   */
  readonly tablesAtOnce?: number;
}

export const defaultExtractSettings: Required<ExtractSettings> = {
  lateCommitWindowSeconds: 15 * 60,
  maxRowsPerObject: 50_000,
  leaseSeconds: 20 * 60,
  maxRecentVersions: 5_000,
  tablesAtOnce: 2,
};
