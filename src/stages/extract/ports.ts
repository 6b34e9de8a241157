import { TotesError } from '../../errors';
import type { SourceTableName } from '../../schemas/source';

/** One extracted version of a source row: its id and normalised `last_updated`. */
export interface RowVersion {
  readonly id: number;
  readonly lastUpdated: string;
}

/** Which rows of one table an extract reads. */
export interface ChangeQuery {
  /** Rows with `last_updated` strictly after this (normalised); every row when null. */
  readonly after: string | null;
  /** Versions already extracted: never read again. */
  readonly exclude: readonly RowVersion[];
  /** At most this many rows per chunk (one chunk = one object). */
  readonly maxRowsPerChunk: number;
}

/** One object's worth of a change set's CSV. */
export interface CsvChunk {
  /** Records in the chunk, the header not counted. */
  readonly rows: number;
  /** The header line, then the chunk's records: the object's bytes, in order, in parts. */
  readonly csv: readonly Uint8Array[];
  /**
   * Hands the chunk's memory back for later chunks, once its object is written (or given up on).
   * Its bytes must not be read after; a second call does nothing.
   */
  release(): void;
}

/** The rows a query selects, seen through one consistent snapshot. */
export interface ChangeSet {
  /** Highest `last_updated` in the set (normalised), or null when it is empty. */
  readonly maxLastUpdated: string | null;
  /**
   * The set's rows as PostgreSQL CSV, read once and cut into chunks of at most maxRowsPerChunk
   * rows, each with the header; nothing when the set is empty. Iterate it once, and before
   * versionsAfter: they share one connection.
   */
  chunks(): AsyncIterable<CsvChunk>;
  /** Versions in the set with `last_updated` after `after`, newest first, at most `limit`. */
  versionsAfter(after: string, limit: number): Promise<RowVersion[]>;
}

export interface SourceReader {
  /** Runs `work` inside one snapshot of the table, so every chunk and count agree. */
  withChanges<T>(table: SourceTableName, query: ChangeQuery, work: (changes: ChangeSet) => Promise<T>): Promise<T>;
}

/** A table's watermark item as the extract sees it. */
export interface WatermarkState {
  readonly table: string;
  /** Highest `last_updated` extracted (normalised), or null before the first extract. */
  readonly watermark: string | null;
  /** Versions extracted inside the late-commit window behind the watermark. */
  readonly recent: readonly RowVersion[];
  readonly leaseOwner: string | null;
  /** ISO time the lease expires, or null when nobody holds it. */
  readonly leaseUntil: string | null;
  readonly updatedAt: string | null;
}

export interface LeaseRequest {
  readonly owner: string;
  readonly now: Date;
  readonly leaseSeconds: number;
}

export interface WatermarkAdvance {
  readonly owner: string;
  /** The watermark the lease was taken with: the write fails if it changed since. */
  readonly expected: string | null;
  readonly watermark: string;
  readonly recent: readonly RowVersion[];
  readonly now: Date;
}

export interface LastRunTableSummary {
  readonly table: string;
  readonly status: TableStatus;
  readonly rows: number;
  readonly objects: number;
  readonly from: string | null;
  readonly to: string | null;
  readonly error?: string;
}

export interface LastRun {
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly ok: boolean;
  readonly tables: readonly LastRunTableSummary[];
}

export interface WatermarkStore {
  /** Takes the table's lease. Null when another run holds an unexpired lease. */
  acquireLease(table: SourceTableName, request: LeaseRequest): Promise<WatermarkState | null>;
  /**
   * Moves the watermark and releases the lease in one conditional write. Throws
   * WatermarkConflictError when the lease or the expected watermark no longer hold.
   */
  advance(table: SourceTableName, update: WatermarkAdvance): Promise<void>;
  /** Gives the lease back without touching the watermark; a lease held by someone else is left alone. */
  releaseLease(table: SourceTableName, owner: string): Promise<void>;
  /** Every table's watermark, for `totes status`. */
  list(): Promise<WatermarkState[]>;
  /** Operator reset: sets the watermark (null = extract everything again) and forgets `recent`. */
  reset(table: SourceTableName, to: string | null): Promise<void>;
  recordLastRun(run: LastRun): Promise<void>;
  lastRun(): Promise<LastRun | null>;
}

export type TableStatus = 'extracted' | 'unchanged' | 'skipped' | 'failed';

/** The watermark moved or the lease was lost while a run worked: its advance is refused. */
export class WatermarkConflictError extends TotesError {
  constructor(message: string, table: string, cause?: unknown) {
    super(message, { context: { stage: 'extract', table }, retryable: true, cause });
  }
}
