/**
 * The extract's settings and their defaults: the one place the defaults are written. The handler
 * configuration (src/config.ts) and the local stack read them from here, and a test holds the
 * deployment's defaults (infra/stack.cjs) to the same values. A module of its own, so that every
 * function's bundle can read the defaults without the extract stage.
 */
export interface ExtractSettings {
  /** How far behind the watermark a late-committing row is still captured. */
  readonly lateCommitWindowSeconds: number;
  /**
   * Rows per ingestion object (default 50,000, not 100,000: at 1,000,000 sales orders the
   * bench's extract peaked at 234 MB with 100,000-row chunks against 201 MB at 100,000 sales
   * orders (+17%), and at 204 MB with 50,000-row chunks (+1.5%); the transform and load took the
   * same time with twice the objects).
   */
  readonly maxRowsPerObject: number;
  /** Must exceed the Lambda timeout, so a lease never expires under a run that is still working. */
  readonly leaseSeconds: number;
  /** Cap on remembered versions per table (default 5,000, which keeps the item far below 400 KB). */
  readonly maxRecentVersions?: number;
  /**
   * Tables read at once, each on its own connection (default 1; the source pool has 2). Two had
   * kept PostgreSQL's COPY and the uploads busy while each chunk was a concatenated buffer; once
   * chunks were pooled blocks streamed to S3, one table at a time extracted 1,000,000 sales
   * orders as fast (3.9–4.5 s against 3.7–4.0 s), with half the chunk memory in flight. That
   * memory is then reached at 100,000 sales orders too (one table of two chunks), so the peak
   * stays flat as tables grow: 90–94 → 97–98 MB, against 94–97 → 111–113 MB with two.
   */
  readonly tablesAtOnce?: number;
}

export const defaultExtractSettings: Required<ExtractSettings> = {
  lateCommitWindowSeconds: 15 * 60,
  maxRowsPerObject: 50_000,
  leaseSeconds: 20 * 60,
  maxRecentVersions: 5_000,
  tablesAtOnce: 1,
};
