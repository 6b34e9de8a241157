import { randomBytes } from 'node:crypto';
import { InvalidInputError, TotesError, describeError } from '../../errors';
import { buildIngestionKey } from '../../schemas/keys';
import { isSourceTableName, sourceTableNames, type SourceTableName } from '../../schemas/source';
import type { Clock, Logger, ObjectStore } from '../ports';
import { createInFlightLimit } from '../shared/in-flight';
import type { RowVersion, SourceReader, TableStatus, WatermarkState, WatermarkStore } from './ports';
import { type ExtractSettings, defaultExtractSettings } from './settings';
import { laterOf, secondsBefore, versionsToRemember } from './window';

export type * from './ports';
export { WatermarkConflictError } from './ports';

export { type ExtractSettings, defaultExtractSettings } from './settings';

/**
 * Objects of one table uploading while the next chunk is read. A chunk is read whole (at most
 * maxRowsPerObject rows, ~5 MB for 50,000 sales orders) and uploaded in the background, so
 * the source's COPY does not stand idle during each PUT. One is enough (a PUT of 5 MB takes
 * less time than reading the next 50,000 rows) and keeps a table's memory at two chunks, the
 * same for a table of two chunks as for one of two hundred.
 */
const UPLOADS_IN_FLIGHT = 1;

export interface ExtractDeps {
  readonly source: SourceReader;
  readonly objectStore: ObjectStore;
  readonly watermarks: WatermarkStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly settings: ExtractSettings;
}

export interface ExtractInput {
  /** Defaults to all 11 business tables. */
  readonly tables?: readonly SourceTableName[];
  /** Names this run's objects; must be unique per invocation. Generated when absent. */
  readonly runId?: string;
}

export interface TableReport {
  readonly table: SourceTableName;
  readonly status: TableStatus;
  readonly rows: number;
  readonly objects: string[];
  /** The watermark before the run (exclusive), null for a first extract. */
  readonly from: string | null;
  /** The watermark after the run; null when the table was skipped or failed. */
  readonly to: string | null;
  readonly error?: string;
}

export interface ExtractReport {
  readonly runId: string;
  readonly startedAt: string;
  readonly tables: TableReport[];
  /** False when any table failed; skipped tables (lease held elsewhere) are not failures. */
  readonly ok: boolean;
}

const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

/** Sortable by time, unique by randomness, and within the key contract's `[a-z0-9]{4,32}`. */
export function newRunId(now: Date): string {
  return `${now.toISOString().replace(/\D/g, '').slice(0, 14)}${randomBytes(4).toString('hex')}`;
}

function validateSettings(settings: ExtractSettings): Required<ExtractSettings> {
  const resolved = { ...defaultExtractSettings, ...settings };
  const wholeNumber = (name: keyof ExtractSettings, minimum: number) => {
    const value = resolved[name];
    if (!Number.isInteger(value) || value < minimum) {
      throw new InvalidInputError(`extract setting ${name} must be an integer >= ${minimum}, got ${value}`, { stage: 'extract' });
    }
  };
  wholeNumber('lateCommitWindowSeconds', 0);
  wholeNumber('maxRowsPerObject', 1);
  wholeNumber('leaseSeconds', 1);
  wholeNumber('maxRecentVersions', 0);
  wholeNumber('tablesAtOnce', 1);
  return resolved;
}

/**
 * Extracts every changed row of the given source tables into CSV objects, `tablesAtOnce` tables at a time.
 *
 * Per table: take the table's lease (a table leased by an overlapping run is `skipped`), read
 * the rows changed since the watermark — reaching `lateCommitWindowSeconds` behind it for late
 * commits, minus the versions already extracted there — in one snapshot, stream them into
 * create-only objects of at most `maxRowsPerObject` rows, and only then advance the watermark
 * with a conditional write. A table that fails keeps its watermark and does not stop the others;
 * the report's `ok` is false, and the run is recorded for `totes status`.
 */
export async function extractTables(input: ExtractInput, deps: ExtractDeps): Promise<ExtractReport> {
  const settings = validateSettings(deps.settings);
  const started = deps.clock.now();
  const runId = input.runId ?? newRunId(started);
  const tables = input.tables ?? sourceTableNames;
  for (const table of tables) {
    if (!isSourceTableName(table)) throw new InvalidInputError(`${String(table)} is not a source table`, { stage: 'extract', table, runId });
  }
  const logger = deps.logger.child({ stage: 'extract', runId });
  const runDay = started.toISOString().slice(0, 10);

  // A few tables at a time: the source is someone else's OLTP database, so its load stays small.
  const tableSlot = createInFlightLimit(settings.tablesAtOnce);
  const reports = await Promise.all(tables.map((table) => tableSlot(() => extractTable(table, { ...deps, settings, logger, runId, runDay }))));

  const report: ExtractReport = { runId, startedAt: started.toISOString(), tables: reports, ok: reports.every((table) => table.status !== 'failed') };
  await recordRun(report, deps, logger);
  return report;
}

interface TableContext extends ExtractDeps {
  readonly settings: Required<ExtractSettings>;
  readonly runId: string;
  readonly runDay: string;
}

interface Extracted {
  readonly rows: number;
  readonly objects: string[];
  readonly watermark: string;
  readonly recent: RowVersion[];
}

async function extractTable(table: SourceTableName, context: TableContext): Promise<TableReport> {
  const { watermarks, clock, runId, settings } = context;
  const logger = context.logger.child({ table });
  let lease: WatermarkState | null = null;
  try {
    lease = await watermarks.acquireLease(table, { owner: runId, now: clock.now(), leaseSeconds: settings.leaseSeconds });
    if (!lease) {
      logger.info('table leased by another run, skipped', { event: 'extract_table_skipped' });
      return { table, status: 'skipped', rows: 0, objects: [], from: null, to: null };
    }
    const extracted = await readAndWrite(table, lease, context);
    if (!extracted) {
      await watermarks.releaseLease(table, runId);
      logger.info('no changes', { event: 'extract_table_unchanged', watermark: lease.watermark });
      return { table, status: 'unchanged', rows: 0, objects: [], from: lease.watermark, to: lease.watermark };
    }
    // Only now are all objects durably written; a crash before this line leaves the watermark
    // where it was, and the next run reads the same versions again (load absorbs repeats).
    await watermarks.advance(table, {
      owner: runId,
      expected: lease.watermark,
      watermark: extracted.watermark,
      recent: extracted.recent,
      now: clock.now(),
    });
    logger.info('extracted', { event: 'extract_table_done', rows: extracted.rows, objects: extracted.objects.length, from: lease.watermark, to: extracted.watermark });
    return { table, status: 'extracted', rows: extracted.rows, objects: extracted.objects, from: lease.watermark, to: extracted.watermark };
  } catch (error) {
    if (lease) await releaseQuietly(table, context, logger);
    const message = describeError(error);
    // A metric filter matches `event`; the message names the table for a person reading it.
    logger.error(`extract of ${table} failed: ${message}`, { event: 'extract_table_failed', error: message });
    return { table, status: 'failed', rows: 0, objects: [], from: lease?.watermark ?? null, to: null, error: `${table}: ${message}` };
  }
}

async function readAndWrite(table: SourceTableName, lease: WatermarkState, context: TableContext): Promise<Extracted | null> {
  const { settings, runId, runDay } = context;
  const windowSeconds = settings.lateCommitWindowSeconds;
  const after = lease.watermark === null ? null : secondsBefore(lease.watermark, windowSeconds);
  const exclude = after === null ? [] : lease.recent.filter((version) => version.lastUpdated > after);

  return context.source.withChanges(table, { after, exclude, maxRowsPerChunk: settings.maxRowsPerObject }, async (changes) => {
    if (changes.maxLastUpdated === null) return null;
    // A run that only finds late commits (all older than the watermark) keeps the watermark.
    const watermark = laterOf(lease.watermark, changes.maxLastUpdated);
    const objects: string[] = [];
    let rows = 0;
    const uploads = new BackgroundUploads(UPLOADS_IN_FLIGHT);
    try {
      for await (const chunk of changes.chunks()) {
        const key = buildIngestionKey({ table, runDay, window: { from: lease.watermark, to: watermark }, runId, part: objects.length + 1 });
        await uploads.start(chunk.release, async () => {
          const result = await context.objectStore.putNew(key, chunk.csv, CSV_CONTENT_TYPE);
          // An existing key holds some other read of this window; trusting it could drop rows this
          // snapshot has and that one lacks, so the table fails instead (run ids must be unique).
          if (!result.created) {
            throw new TotesError(`ingestion object ${key} already exists: run id ${runId} was used before`, {
              context: { stage: 'extract', table, key, runId },
            });
          }
        });
        objects.push(key);
        rows += chunk.rows;
      }
    } finally {
      // Every upload settles before the table's outcome is decided, even when a read failed.
      await uploads.settle();
    }
    uploads.throwFirstFailure();
    const windowStart = secondsBefore(watermark, windowSeconds);
    const fresh = await changes.versionsAfter(windowStart, settings.maxRecentVersions);
    return { rows, objects, watermark, recent: versionsToRemember(lease.recent, fresh, windowStart, settings.maxRecentVersions) };
  });
}

/**
 * Uploads running while the caller goes on, at most `limit` at once. A failure is kept, not
 * thrown into the void: the caller settles them all, then asks for the first failure. Each
 * upload's chunk memory is released once it has settled, or at once when it never starts.
 */
class BackgroundUploads {
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /** Starts `upload` once fewer than `limit` are running; throws an earlier upload's failure instead. */
  async start(release: () => void, upload: () => Promise<void>): Promise<void> {
    try {
      while (this.running.size >= this.limit) await Promise.race(this.running);
      this.throwFirstFailure();
    } catch (error) {
      release();
      throw error;
    }
    const running: Promise<void> = upload()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        release();
        this.running.delete(running);
      });
    this.running.add(running);
  }

  async settle(): Promise<void> {
    await Promise.all(this.running);
  }

  throwFirstFailure(): void {
    if (this.failure) throw this.failure.error;
  }
}

async function releaseQuietly(table: SourceTableName, context: TableContext, logger: Logger): Promise<void> {
  try {
    await context.watermarks.releaseLease(table, context.runId);
  } catch (error) {
    // The lease expires on its own; the table's failure is already being reported.
    logger.warn('could not release lease', { event: 'extract_lease_not_released', error: describeError(error) });
  }
}

async function recordRun(report: ExtractReport, deps: ExtractDeps, logger: Logger): Promise<void> {
  try {
    await deps.watermarks.recordLastRun({
      runId: report.runId,
      startedAt: report.startedAt,
      finishedAt: deps.clock.now().toISOString(),
      ok: report.ok,
      tables: report.tables.map(({ objects, ...table }) => ({ ...table, objects: objects.length })),
    });
  } catch (error) {
    // Status reporting must not turn a good extract into a failed one.
    logger.error('could not record the last run', { event: 'extract_last_run_not_recorded', error: describeError(error) });
  }
}
