/**
 * One stage of the benchmark in a process of its own, so its peak RSS is the stage's alone: the
 * extract handler invoked once on a scheduled event, or the transform/load handler fed by the
 * local SQS event-source runtime until its queue is empty (one worker ≈ one Lambda instance).
 *
 * Started by bench/runner.ts, bundled by esbuild as the functions are for deployment and run with
 * the function's NODE_OPTIONS, with the spec as JSON in TOTES_BENCH_WORKER; prints one JSON line
 * (the WorkerResult) on stdout.
 */
import { existsSync } from 'node:fs';
import { type PerformanceEntry, PerformanceObserver, constants as performanceConstants } from 'node:perf_hooks';
import type { SQSEvent, Context, ScheduledEvent } from 'aws-lambda';
import { createAwsClients } from '../src/aws/clients';
import type { AwsSettings } from '../src/aws/config';
import type { HandlerConfig } from '../src/config';
import { extractRuntime } from '../src/handlers/deps/extract';
import type { Runtime } from '../src/handlers/deps/runtime';
import { createExtractHandler } from '../src/handlers/extract';
import { createLoadHandler } from '../src/handlers/load';
import { onFirstUse } from '../src/handlers/runtime/cold-start';
import { createTransformHandler } from '../src/handlers/transform';
import { drainQueues, type SqsHandler } from '../src/local/event-source';
import { lambdaContext } from '../src/local/lambda-context';
import { createJsonLogger } from '../src/observability/logger';

export type BenchStage = 'extract' | 'transform' | 'load';

export interface WorkerSpec {
  readonly stage: BenchStage;
  readonly config: HandlerConfig;
  readonly aws: AwsSettings;
  readonly queueUrl?: string;
  readonly queueArn?: string;
  readonly functionName: string;
  readonly batchSize: number;
  readonly timeoutMs: number;
  /** Pipelined runs: keep polling an empty queue until this file exists (the producer has finished). */
  readonly upstreamDoneFile?: string;
}

export interface WorkerResult {
  readonly stage: BenchStage;
  /** Epoch ms when the work began (after module load) and when the process was done. */
  readonly startedAt: number;
  readonly finishedAt: number;
  /**
   * Epoch ms when the last invocation that had work returned (extract: its one invocation): its
   * rows were in the warehouse or bucket then. What follows it until finishedAt is the local
   * event-source runtime finding the queue empty (a long poll of up to 1 s, then asking whether
   * the producer has finished), which is not pipeline work: no Lambda waits for that.
   */
  readonly lastWorkAt: number;
  /** Rows this worker moved: extracted rows, CSV rows transformed, Parquet rows loaded. */
  readonly rows: number;
  /** Sales orders among them (extract: sales_order rows; transform/load: fact_sales_order rows). */
  readonly salesOrders: number;
  /** Rows per object key processed (transform, load): a key delivered twice is counted once by the runner. */
  readonly rowsByKey: Record<string, number>;
  /** Objects processed, counting each delivery. */
  readonly loggedObjects: number;
  /** Objects written (extract) or messages settled (transform, load). */
  readonly objects: number;
  readonly invocations: number;
  readonly failedAttempts: number;
  /** process.resourceUsage().maxRSS, in MB. */
  readonly peakRssMb: number;
  /** CPU time (user + system) of the work, seconds: unlike wall time, not inflated by a busy machine. */
  readonly cpuSeconds: number;
  /** V8's collections during the work: full (mark-compact) and young (scavenges), and their pauses in seconds. */
  readonly gc: GcCounts;
}

export interface GcCounts {
  readonly full: number;
  readonly young: number;
  readonly pauseSeconds: number;
}

/**
 * Counts V8's collections from now on. The tenth round found the load running a full collection
 * per object only by tracing the workers by hand; the counts now come with every run.
 */
function watchCollections(): () => GcCounts {
  const counts = { full: 0, young: 0, pauseSeconds: 0 };
  const tally = (entries: readonly PerformanceEntry[]) => {
    for (const entry of entries) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === performanceConstants.NODE_PERFORMANCE_GC_MAJOR) counts.full += 1;
      else if (kind === performanceConstants.NODE_PERFORMANCE_GC_MINOR) counts.young += 1;
      counts.pauseSeconds += entry.duration / 1000;
    }
  };
  const observer = new PerformanceObserver((list) => tally(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    // Entries not yet delivered to the callback.
    tally(observer.takeRecords());
    observer.disconnect();
    return { ...counts };
  };
}

function scheduledEvent(region: string): ScheduledEvent {
  return {
    version: '0', id: crypto.randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012',
    time: new Date().toISOString(), region, resources: ['arn:aws:events:local:rule/totes-bench'], detail: {},
  };
}

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.env.TOTES_BENCH_WORKER ?? '') as WorkerSpec;
  const counts = { rows: 0, salesOrders: 0, objects: 0, invocations: 0, failedAttempts: 0, loggedObjects: 0 };
  const rowsByKey: Record<string, number> = {};
  // The handlers' own success lines carry the row counts, so nothing is counted twice.
  const logger = createJsonLogger({
    level: 'info',
    write: (line) => {
      // Failures go to stderr, where the runner shows them: a stuck stage must say why.
      if (line.startsWith('{"level":"error"') || line.startsWith('{"level":"warn"')) process.stderr.write(`${line}\n`);
      if (!line.includes('"message":"transformed"') && !line.includes('"message":"loaded"')) return;
      const entry = JSON.parse(line) as { message: string; key?: string; sourceRows?: number; table?: string; rowsInFile?: number; outputs?: { table: string; rows: number }[] };
      if (entry.key) {
        rowsByKey[entry.key] = entry.sourceRows ?? entry.rowsInFile ?? 0;
        counts.loggedObjects += 1;
      }
      if (entry.message === 'transformed') {
        counts.rows += entry.sourceRows ?? 0;
        counts.salesOrders += entry.outputs?.find((output) => output.table === 'fact_sales_order')?.rows ?? 0;
      } else {
        counts.rows += entry.rowsInFile ?? 0;
        if (entry.table === 'fact_sales_order') counts.salesOrders += entry.rowsInFile ?? 0;
      }
    },
  });
  const runtime: Runtime = { config: spec.config, aws: spec.aws, clients: createAwsClients(spec.aws), logger };
  const startedAt = Date.now();
  let lastWorkAt = startedAt;
  const cpuAtStart = process.cpuUsage();
  const collections = watchCollections();

  if (spec.stage === 'extract') {
    const handler = createExtractHandler(onFirstUse(async () => extractRuntime(runtime)));
    const report = await handler(scheduledEvent(spec.aws.region), lambdaContext({ functionName: spec.functionName, timeoutMs: spec.timeoutMs, region: spec.aws.region }));
    counts.invocations = 1;
    lastWorkAt = Date.now();
    for (const table of report.tables) {
      counts.rows += table.rows;
      counts.objects += table.objects.length;
      if (table.table === 'sales_order') counts.salesOrders += table.rows;
    }
  } else {
    const inner: SqsHandler = spec.stage === 'transform' ? createTransformHandler(async () => runtime) : createLoadHandler(async () => runtime);
    const handler: SqsHandler = async (event: SQSEvent, context: Context) => {
      counts.invocations += 1;
      const response = (await inner(event, context)) as { batchItemFailures?: unknown[] } | undefined;
      lastWorkAt = Date.now();
      const failures = response?.batchItemFailures?.length ?? 0;
      counts.objects += event.Records.length - failures;
      counts.failedAttempts += failures;
      return response;
    };
    await drainQueues(
      [{ sqs: runtime.clients.sqs, queueUrl: spec.queueUrl ?? '', queueArn: spec.queueArn, handler, batchSize: spec.batchSize, waitSeconds: 1, functionName: spec.functionName, functionTimeoutMs: spec.timeoutMs }],
      { timeoutMs: spec.timeoutMs, concurrency: 1, ...(spec.upstreamDoneFile ? { upstreamDone: () => existsSync(spec.upstreamDoneFile!) } : {}) },
    );
  }
  const result: WorkerResult = { stage: spec.stage, startedAt, finishedAt: Date.now(), lastWorkAt, ...counts, rowsByKey, peakRssMb: process.resourceUsage().maxRSS / 1024, cpuSeconds: cpuSeconds(process.cpuUsage(cpuAtStart)), gc: collections() };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
