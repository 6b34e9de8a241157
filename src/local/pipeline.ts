import type { Context, ScheduledEvent, SQSEvent } from 'aws-lambda';
import pg from 'pg';
import { DynamoFailureJournal } from '../aws/failure-journal';
import { queueDepth } from '../aws/sqs-queue';
import { describeError } from '../errors';
import { createExtractHandler } from '../handlers/extract';
import { extractRuntime } from '../handlers/deps/extract';
import type { Runtime } from '../handlers/deps/runtime';
import { createLoadHandler } from '../handlers/load';
import { onFirstUse } from '../handlers/runtime/cold-start';
import { createTransformHandler } from '../handlers/transform';
import { createJsonLogger } from '../observability/logger';
import { listDeadLetters } from '../ops/dlq';
import { warehouseTableNames } from '../schemas/warehouse';
import { quoteIdent } from '../schemas/columns';
import type { ExtractDeps, ExtractReport } from '../stages/extract';
import { drainQueues, type SqsHandler } from './event-source';
import type { LocalEnvironment } from './environment';
import { lambdaContext } from './lambda-context';
import { consumerBatchSize } from './stack-model';

export interface DeadLetter {
  readonly queue: 'transform' | 'load';
  readonly key: string;
  readonly reason: string;
}

export interface TickSummary {
  readonly extract: ExtractReport | null;
  readonly extractError?: string;
  readonly transformed: number;
  readonly loaded: number;
  readonly failedAttempts: number;
  readonly deadLetters: DeadLetter[];
  readonly warehouseRows: Record<string, number>;
  readonly ok: boolean;
  readonly seconds: number;
}

export interface PipelineOptions {
  /** Progress lines for people. */
  readonly progress?: (line: string) => void;
  /** Where the handlers' JSON log lines go (default: dropped; the runner reports what matters). */
  readonly logLine?: (line: string) => void;
  readonly drainTimeoutMs?: number;
  readonly concurrency?: number;
  /** Test seams for fault injection. The CLI and the demo pass none, and get the deployed wiring. */
  readonly faults?: PipelineFaults;
}

/**
 * Where a reliability test may interfere with the real handlers, each a decorator that returns
 * what it was given when it has nothing to inject.
 */
export interface PipelineFaults {
  /** What each function's deps are built from, e.g. AWS clients that fail on cue. */
  readonly runtime?: (runtime: Runtime, fn: 'extract' | 'transform' | 'load') => Runtime;
  /** The extract's deps, e.g. a source reader whose connection dies mid-COPY. */
  readonly extractDeps?: (deps: ExtractDeps) => ExtractDeps;
  /** A handler as the event source invokes it, e.g. a container that dies after half a batch. */
  readonly handler?: (handler: SqsHandler, queue: 'transform' | 'load') => SqsHandler;
}

export interface ExtractOutcome {
  readonly extract: ExtractReport | null;
  readonly extractError?: string;
}

/**
 * The deployed pipeline, run in-process: the real middy handlers, invoked the way Lambda invokes
 * them — extract with a scheduled event, transform and load by the local SQS event-source
 * runtime polling the queues that the S3 notifications fill.
 */
export class LocalPipeline {
  private readonly extractHandler;
  private readonly transformHandler: SqsHandler;
  private readonly loadHandler: SqsHandler;
  private readonly counts = { transformed: 0, loaded: 0, failedAttempts: 0 };

  constructor(
    private readonly environment: LocalEnvironment,
    private readonly options: PipelineOptions = {},
  ) {
    const runtime: Runtime = { config: environment.config, aws: environment.aws, clients: environment.clients, logger: createJsonLogger({ level: environment.config.LOG_LEVEL, write: options.logLine ?? (() => undefined) }) };
    const faults = options.faults ?? {};
    const runtimeFor = (fn: 'extract' | 'transform' | 'load'): Runtime => faults.runtime?.(runtime, fn) ?? runtime;
    const handlerFor = (handler: SqsHandler, queue: 'transform' | 'load'): SqsHandler => faults.handler?.(handler, queue) ?? handler;
    this.extractHandler = createExtractHandler(onFirstUse(async () => {
      const built = extractRuntime(runtimeFor('extract'));
      return faults.extractDeps ? { ...built, deps: faults.extractDeps(built.deps) } : built;
    }));
    this.transformHandler = this.counting(handlerFor(createTransformHandler(async () => runtimeFor('transform')), 'transform'), 'transformed');
    this.loadHandler = this.counting(handlerFor(createLoadHandler(async () => runtimeFor('load')), 'load'), 'loaded');
  }

  /** One extract tick, then both queues drained until nothing is in flight. */
  async tick(): Promise<TickSummary> {
    const started = Date.now();
    const progress = this.options.progress ?? (() => undefined);
    const before = { ...this.counts };
    const { extract, extractError } = await this.extract();
    if (extract) {
      const changed = extract.tables.filter((table) => table.status === 'extracted');
      const rows = changed.reduce((sum, table) => sum + table.rows, 0);
      const objects = changed.reduce((sum, table) => sum + table.objects.length, 0);
      progress(`extract: ${rows.toLocaleString('en-GB')} changed rows in ${changed.length} tables → ${objects} CSV objects`);
    } else {
      progress(`extract failed: ${extractError ?? 'unknown error'}`);
    }

    const ticker = setInterval(() => progress(`  transform ${this.counts.transformed - before.transformed} messages settled, load ${this.counts.loaded - before.loaded} messages settled…`), 2000);
    try {
      await this.deliver();
    } finally {
      clearInterval(ticker);
    }
    const transformed = this.counts.transformed - before.transformed;
    const loaded = this.counts.loaded - before.loaded;
    const failedAttempts = this.counts.failedAttempts - before.failedAttempts;
    progress(`transform: ${transformed} messages settled; load: ${loaded} messages settled; ${failedAttempts} failed attempts left for redelivery`);

    const deadLetters = await this.deadLetters();
    const warehouseRows = await countWarehouseRows(this.environment.warehouseUrl);
    const ok = Boolean(extract?.ok) && deadLetters.length === 0;
    return { extract, extractError, transformed, loaded, failedAttempts, deadLetters, warehouseRows, ok, seconds: (Date.now() - started) / 1000 };
  }

  /** The scheduled extract alone: the objects it writes wait on the transform queue. */
  async extract(): Promise<ExtractOutcome> {
    try {
      return { extract: await this.extractHandler(scheduledEvent(this.environment.outputs.region), this.context('extract', 600_000)) };
    } catch (error) {
      return { extract: null, extractError: describeError(error) };
    }
  }

  /** Drains the given queues (default both) through their handlers until nothing is in flight. */
  async deliver(queues: readonly ('transform' | 'load')[] = ['transform', 'load']): Promise<void> {
    const handlers = { transform: this.transformHandler, load: this.loadHandler };
    await drainQueues(
      queues.map((queue) => this.eventSource(handlers[queue], queue)),
      { timeoutMs: this.options.drainTimeoutMs ?? 15 * 60_000, concurrency: this.options.concurrency ?? 2 },
    );
  }

  private eventSource(handler: SqsHandler, queue: 'transform' | 'load') {
    const outputs = this.environment.outputs.queues[queue];
    return {
      sqs: this.environment.clients.sqs,
      queueUrl: outputs.url,
      queueArn: outputs.arn,
      handler,
      batchSize: consumerBatchSize(queue),
      waitSeconds: 1,
      functionName: `totes-${this.environment.outputs.stage}-${queue}`,
    };
  }

  private context(name: string, timeoutMs: number): Context {
    return lambdaContext({ functionName: `totes-${this.environment.outputs.stage}-${name}`, timeoutMs, region: this.environment.outputs.region });
  }

  private counting(handler: SqsHandler, counter: 'transformed' | 'loaded'): SqsHandler {
    return async (event: SQSEvent, context: Context) => {
      const response = (await handler(event, context)) as { batchItemFailures?: unknown[] } | undefined;
      const failures = response?.batchItemFailures?.length ?? 0;
      this.counts[counter] += event.Records.length - failures;
      this.counts.failedAttempts += failures;
      return response;
    };
  }

  /**
   * Peeks at both DLQs without consuming (the messages stay for `totes dlq redrive`), with each
   * object's reason from the failure journal the handlers write — the same listing as
   * `totes dlq list`, so it also explains messages left by an earlier run.
   */
  async deadLetters(): Promise<DeadLetter[]> {
    const journal = new DynamoFailureJournal(this.environment.clients.dynamo, this.environment.outputs.failuresTable);
    const letters: DeadLetter[] = [];
    for (const queue of ['transform', 'load'] as const) {
      const dlqUrl = this.environment.outputs.queues[queue].dlqUrl;
      const depth = await queueDepth(this.environment.clients.sqs, dlqUrl);
      if (depth.visible === 0) continue;
      for (const letter of await listDeadLetters(this.environment.clients.sqs, journal, dlqUrl, { holdSeconds: 5 })) {
        letters.push({ queue, key: letter.key, reason: letter.failure?.error ?? 'no failure recorded for this object' });
      }
    }
    return letters;
  }
}

function scheduledEvent(region: string): ScheduledEvent {
  return {
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString(),
    region,
    resources: ['arn:aws:events:local:rule/totes-extract-schedule'],
    detail: {},
  };
}

/** Row counts of the 11 star tables (0 for a table not created yet). */
export async function countWarehouseRows(warehouseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: warehouseUrl });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const table of warehouseTableNames) {
      const exists = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [`public.${table}`]);
      counts[table] = exists.rows[0]?.present ? Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM public.${quoteIdent(table)}`)).rows[0]?.n ?? 0) : 0;
    }
    return counts;
  } finally {
    await client.end();
  }
}
