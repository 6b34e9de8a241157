import * as z from 'zod';
import { SourceTimestamp } from './keys';

/**
 * The extract watermark table (DynamoDB, hash key `table`): one item per source table, plus the
 * reserved `__last_run__` item that `totes status` reads.
 *
 * `watermark` is the highest `last_updated` extracted so far, normalised text (never a JS Date).
 * `recent` lists the versions already extracted inside the late-commit window, each as
 * `<id>@<last_updated>`; the next extract excludes them, so it re-reads nothing. A lease
 * (`leaseOwner`, `leaseUntil` epoch ms) keeps overlapping invocations off the same table.
 */
export const LAST_RUN_ITEM = '__last_run__';

const recentEntryPattern = /^(-?\d+)@(.+)$/;

export const RecentEntry = z.string().regex(recentEntryPattern, 'expected <id>@<last_updated>');

export const WatermarkItem = z.object({
  table: z.string(),
  watermark: SourceTimestamp.optional(),
  recent: z.array(RecentEntry).optional(),
  leaseOwner: z.string().optional(),
  leaseUntil: z.number().optional(),
  updatedAt: z.string().optional(),
  lastRunId: z.string().optional(),
});
export type WatermarkItem = z.infer<typeof WatermarkItem>;

export function formatRecentEntry(id: number, lastUpdated: string): string {
  return `${id}@${lastUpdated}`;
}

export function parseRecentEntry(entry: string): { id: number; lastUpdated: string } {
  const match = recentEntryPattern.exec(entry);
  if (!match) throw new Error(`not a recent entry: ${JSON.stringify(entry)}`);
  return { id: Number(match[1]), lastUpdated: SourceTimestamp.parse(match[2]) };
}

export const LastRunTable = z.object({
  table: z.string(),
  status: z.enum(['extracted', 'unchanged', 'skipped', 'failed']),
  rows: z.number(),
  objects: z.number(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  error: z.string().optional(),
});

export const LastRunItem = z.object({
  table: z.literal(LAST_RUN_ITEM),
  runId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  ok: z.boolean(),
  tables: z.array(LastRunTable),
});
export type LastRunItem = z.infer<typeof LastRunItem>;
