import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClients } from '../aws/clients';
import { qualified, defaultWarehouseSchemaNames, type WarehouseSchemaNames } from '../db/warehouse-ddl';
import { describeError } from '../errors';
import { FailureItem } from '../schemas/failure';
import { resolveOperatorStack } from '../ops/stack';
import { pipelineStatus, type PipelineStatus } from '../ops/status';
import type { WarehouseReader } from './warehouse-reader';

/**
 * Pipeline health for the dashboard. The AWS side reuses the operator's status gatherer
 * (src/ops), so `totes status` and the page cannot disagree.
 *
 * Two halves with different failure modes: the load log lives in the warehouse, and is shown
 * whenever the business view is; the watermarks, queues and failure journal live in AWS (or
 * the emulator), which may be gone — then the AWS half says "unavailable" and why.
 */

export interface TableLoads {
  readonly table: string;
  readonly objects: number;
  readonly rowsApplied: number;
  readonly recentObjects: number;
  readonly recentRowsApplied: number;
  /** ISO time of the newest load, or null. */
  readonly lastLoadedAt: string | null;
  /** Objects delivered more than once (absorbed redeliveries). */
  readonly redelivered: number;
}

/** What `totes.load_log` says about each warehouse table, with "recent" meaning the last `recentHours`. */
export async function loadLogSummary(reader: WarehouseReader, recentHours: number, names: WarehouseSchemaNames = defaultWarehouseSchemaNames): Promise<TableLoads[]> {
  const rows = await reader.query<{
    table_name: string; objects: string; rows_applied: string; recent_objects: string; recent_rows_applied: string; last_loaded_at: Date | null; redelivered: string;
  }>(
    `SELECT table_name,
            count(*)::text AS objects,
            coalesce(sum(rows_applied), 0)::text AS rows_applied,
            count(*) FILTER (WHERE loaded_at > now() - make_interval(hours => $1))::text AS recent_objects,
            coalesce(sum(rows_applied) FILTER (WHERE loaded_at > now() - make_interval(hours => $1)), 0)::text AS recent_rows_applied,
            max(loaded_at) AS last_loaded_at,
            count(*) FILTER (WHERE deliveries > 1)::text AS redelivered
       FROM ${qualified(names.bookkeepingSchema, 'load_log')}
      GROUP BY table_name
      ORDER BY table_name`,
    [recentHours],
  );
  return rows.map((row) => ({
    table: row.table_name,
    objects: Number(row.objects),
    rowsApplied: Number(row.rows_applied),
    recentObjects: Number(row.recent_objects),
    recentRowsApplied: Number(row.recent_rows_applied),
    lastLoadedAt: row.last_loaded_at ? row.last_loaded_at.toISOString() : null,
    redelivered: Number(row.redelivered),
  }));
}

/** Which of these object keys the load log holds. */
export async function loadedKeys(reader: WarehouseReader, keys: readonly string[], names: WarehouseSchemaNames = defaultWarehouseSchemaNames): Promise<string[]> {
  if (keys.length === 0) return [];
  const rows = await reader.query<{ key: string }>(`SELECT key FROM ${qualified(names.bookkeepingSchema, 'load_log')} WHERE key = ANY($1::varchar[])`, [keys]);
  return rows.map((row) => row.key);
}

export interface RecentError {
  readonly at: string;
  readonly stage: string;
  /** The S3 object key, or the source table for an extract failure. */
  readonly subject: string;
  readonly error: string;
  readonly receiveCount?: number;
  /** For a processed object: it is in the load log, so a later attempt loaded it. */
  readonly loadedSince?: boolean;
}

export type AwsHealth =
  | {
      readonly available: true;
      /** Watermarks, queue and DLQ depths, the last extract and what needs attention (src/ops/status.ts). */
      readonly status: PipelineStatus;
      readonly recentErrors: readonly RecentError[];
      /** Parts that could not be read although AWS answered. */
      readonly notes: readonly string[];
    }
  | { readonly available: false; readonly reason: string };

export interface AwsHealthSources {
  readonly clients: AwsClients;
  readonly stage: string;
  /** The emulator's endpoint, when not on AWS (bucket names differ). */
  readonly endpoint?: string;
  readonly now?: () => Date;
  /** The whole gathering gives up after this long (default 8 s) and reports why. */
  readonly timeoutMs?: number;
  readonly maxErrors?: number;
}

/**
 * The AWS half: the operator's `totes status` gatherer plus the failure journal's recent
 * entries. Never throws: an unreachable or unprovisioned stack is reported with the reason.
 */
export async function gatherAwsHealth(sources: AwsHealthSources): Promise<AwsHealth> {
  const timeoutMs = sources.timeoutMs ?? 8_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<AwsHealth>((resolve) => {
    timer = setTimeout(() => resolve({ available: false, reason: `no answer from AWS within ${timeoutMs / 1000} s` }), timeoutMs);
  });
  try {
    return await Promise.race([readAwsHealth(sources), timeout]);
  } catch (error) {
    return { available: false, reason: describeError(error) };
  } finally {
    clearTimeout(timer);
  }
}

async function readAwsHealth(sources: AwsHealthSources): Promise<AwsHealth> {
  const now = (sources.now ?? (() => new Date()))();
  const stack = await resolveOperatorStack(sources.clients, { stage: sources.stage, endpoint: sources.endpoint });
  const status = await pipelineStatus(sources.clients, stack, now);
  const lastRun = status.lastRun;
  const recentErrors: RecentError[] = (lastRun?.tables ?? [])
    .filter((table) => table.error)
    .map((table) => ({ at: lastRun?.finishedAt ?? '', stage: 'extract', subject: table.table, error: table.error ?? '' }));
  const notes: string[] = [];
  try {
    recentErrors.push(...(await readFailureJournal(sources.clients.dynamo, stack.tables.failures)));
  } catch (error) {
    notes.push(`the failure journal ${stack.tables.failures} could not be read: ${describeError(error)}`);
  }
  recentErrors.sort((a, b) => b.at.localeCompare(a.at));
  return { available: true, status, recentErrors: recentErrors.slice(0, sources.maxErrors ?? 20), notes };
}

/**
 * The journal is small (one item per failing object, expiring after the DLQ retention), so a
 * bounded scan reads it. The DLQs themselves are not peeked: receiving from them, even briefly,
 * is an operator's action (`totes dlq list`), not a page refresh's.
 */
async function readFailureJournal(dynamo: DynamoDBDocumentClient, tableName: string): Promise<RecentError[]> {
  const errors: RecentError[] = [];
  let startKey: Record<string, unknown> | undefined;
  for (let page = 0; page < 5; page += 1) {
    const result = await dynamo.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, Limit: 500 }));
    for (const raw of result.Items ?? []) {
      const parsed = FailureItem.safeParse(raw);
      if (parsed.success) errors.push({ at: parsed.data.at, stage: parsed.data.stage, subject: parsed.data.key, error: parsed.data.error, receiveCount: parsed.data.receiveCount });
    }
    startKey = result.LastEvaluatedKey;
    if (!startKey) break;
  }
  return errors;
}
