import type { AwsClients } from '../aws/clients';
import { DynamoWatermarkStore } from '../aws/dynamo-watermark-store';
import { queueDepth } from '../aws/sqs-queue';
import { sourceTableNames } from '../schemas/source';
import type { LastRun } from '../stages/extract/ports';
import type { OperatorStack } from './stack';

export interface WatermarkStatus {
  readonly table: string;
  /** The highest `last_updated` extracted, or null before the table's first extract. */
  readonly watermark: string | null;
  /** now − watermark: how far the warehouse may lag the source for this table. */
  readonly ageSeconds: number | null;
  /** When the watermark last moved (or was reset). */
  readonly updatedAt: string | null;
}

export interface QueueStatus {
  readonly queue: string;
  /** The stage that consumes the queue (or whose failures the DLQ holds). */
  readonly consumer: 'transform' | 'load';
  readonly role: 'queue' | 'dlq';
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export interface PipelineStatus {
  readonly stage: string;
  readonly watermarks: WatermarkStatus[];
  readonly queues: QueueStatus[];
  readonly lastRun: LastRun | null;
  /** Why the pipeline needs attention (empty: all clear). */
  readonly problems: string[];
}

/**
 * A source `last_updated` is a timestamp without a zone; totesys writes them in UTC, so the age
 * is computed as if it were UTC.
 */
export function watermarkAgeSeconds(watermark: string, now: Date): number {
  const iso = `${watermark.replace(' ', 'T').slice(0, 23)}Z`;
  return Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
}

/** `3d 4h`, `2h 5m`, `7m 3s`, `12s`: the two largest units. */
export function formatAge(seconds: number | null): string {
  if (seconds === null) return '-';
  const units: [string, number][] = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]];
  const parts: string[] = [];
  let rest = seconds;
  for (const [unit, size] of units) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count > 0 || (parts.length > 0 && parts.length < 2)) parts.push(`${count}${unit}`);
    if (parts.length === 2) break;
  }
  return parts.length > 0 ? parts.join(' ') : '0s';
}

/** Watermarks, queue depths and the last extract of a stage, plus what needs attention. */
export async function pipelineStatus(clients: AwsClients, stack: OperatorStack, now: Date = new Date()): Promise<PipelineStatus> {
  const store = new DynamoWatermarkStore(clients.dynamo, stack.tables.watermark);
  const states = new Map((await store.list()).map((state) => [state.table, state]));
  const watermarks = sourceTableNames.map((table): WatermarkStatus => {
    const state = states.get(table);
    const watermark = state?.watermark ?? null;
    return { table, watermark, ageSeconds: watermark === null ? null : watermarkAgeSeconds(watermark, now), updatedAt: state?.updatedAt ?? null };
  });
  const queues: QueueStatus[] = [];
  for (const queue of [stack.queues.transform, stack.queues.load]) {
    queues.push({ queue: queue.name, consumer: queue.id, role: 'queue', ...(await queueDepth(clients.sqs, queue.url)) });
    queues.push({ queue: queue.dlqName, consumer: queue.id, role: 'dlq', ...(await queueDepth(clients.sqs, queue.dlqUrl)) });
  }
  const lastRun = await store.lastRun();
  const problems: string[] = [];
  for (const queue of queues.filter((q) => q.role === 'dlq' && q.visible + q.inFlight + q.delayed > 0)) {
    problems.push(`${queue.queue} holds ${queue.visible + queue.inFlight + queue.delayed} messages: totes dlq list ${queue.consumer}`);
  }
  if (lastRun && !lastRun.ok) {
    const failed = lastRun.tables.filter((table) => table.status === 'failed').map((table) => `${table.table}${table.error ? ` (${table.error})` : ''}`);
    problems.push(`the last extract (${lastRun.finishedAt}) failed${failed.length > 0 ? `: ${failed.join('; ')}` : ''}`);
  }
  return { stage: stack.stage, watermarks, queues, lastRun, problems };
}
