import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import pg from 'pg';
import { openDatabases, openLocalEnvironment, type LocalEnvironment } from '../src/local/environment';
import { startMoto, type RunningMoto } from '../src/local/moto';
import { countWarehouseRows, LocalPipeline } from '../src/local/pipeline';
import { consumerBatchSize, stackDefinition } from '../src/local/stack-model';
import { quoteIdent } from '../src/schemas/columns';
import { seedTotesys } from '../src/seed/seed';
import { measureBundles, type BundleFigure } from './bundles';
import { measureWarehouseFloor } from './floor';
import { measureLimit, type LimitResult } from './limit';
import { adminQuery, urlFor } from './pg-admin';
import type { BenchStage, WorkerResult, WorkerSpec } from './worker';

const projectRoot = resolve(import.meta.dirname, '..');
/** Loads the CommonJS files of infra/ (the esbuild plugins serverless-esbuild bundles with). */
const requireInfra = createRequire(import.meta.url);
const REGION = 'eu-west-2';
/** The machine's PostgreSQL, where the bench creates (and drops) databases of its own. */
const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchOptions {
  readonly salesOrders: number;
  /** Sales-order counts of the extra initial-load runs of the scaling curve (the main run is always one point). */
  readonly scaling: readonly number[];
  /** Transform and load worker processes (Lambda instances) at once. */
  readonly workers: number;
  readonly bundles: boolean;
  /** V8 old-space budget of every stage worker (MB); by default each stage's deployed budget (infra/stack.cjs). */
  readonly heapMb?: number;
  readonly adminUrl?: string;
  readonly log: (line: string) => void;
}

export interface StageFigure {
  readonly rows: number;
  readonly seconds: number;
  readonly rows_per_s: number;
  readonly peak_rss_mb: number;
  /** CPU seconds of the stage's processes together (Node only: PostgreSQL and moto not counted). */
  readonly cpu_seconds: number;
  /** V8's full (mark-compact) and young collections in the stage's processes together, and their pauses. */
  readonly full_collections: number;
  readonly young_collections: number;
  readonly gc_pause_seconds: number;
  readonly objects: number;
  readonly invocations: number;
  readonly failed_attempts: number;
  /** Objects processed more than once (a redelivered notification): their rows count once in `rows`. */
  readonly repeated_objects: number;
  readonly processes: number;
}

/** The initial load again, as deployed: all three stages at once, each consuming as its producer writes. */
export interface PipelinedFigure {
  /** From the extract's start to the last load's end. */
  readonly seconds: number;
  readonly rows_per_s: number;
  readonly stages: Record<BenchStage, StageFigure>;
}

export interface InitialLoadFigure {
  readonly sales_orders: number;
  readonly seed_seconds: number;
  readonly limit_rows_per_s: number;
  readonly limit_seconds: number;
  /** Every attempt of the limit's COPY; limit_rows_per_s is the fastest. */
  readonly limit_attempts_rows_per_s: readonly number[];
  /**
   * The warehouse floor (bench/floor.ts): PostgreSQL alone writing the star rows of this load
   * into an empty warehouse with the spec's keys, fastest of its attempts; and the end-to-end
   * rate a pipeline that cost nothing else would reach, sales orders over those seconds.
   */
  readonly warehouse_floor: { readonly rows: number; readonly seconds: number; readonly attempts_seconds: readonly number[]; readonly streams: number };
  readonly floor_end_to_end_rows_per_s: number;
  /** End to end: the pipelined run's seconds and sales orders per second. */
  readonly seconds: number;
  readonly end_to_end_rows_per_s: number;
  /** The stage-by-stage run: the sum of the stage times, and sales orders per second over it. */
  readonly sequential_seconds: number;
  readonly sequential_end_to_end_rows_per_s: number;
  readonly pipelined: PipelinedFigure;
  /** Each stage alone (the stage-by-stage run): its own rate and memory. */
  readonly stages: Record<BenchStage, StageFigure>;
  readonly warehouse_rows: Record<string, number>;
  readonly load_avg_1m: number;
}

export interface BenchResult extends InitialLoadFigure {
  readonly started_at: string;
  readonly cores: number;
  readonly memory_gb: number;
  readonly node: string;
  readonly postgres: string;
  readonly workers: number;
  /** Each stage's V8 old-space budget (--max-old-space-size), as its deployed function runs. */
  readonly heap_mb: Record<BenchStage, number>;
  /** The V8 and Node options each stage's workers ran with: its deployed function's NODE_OPTIONS, --heap-mb applied. */
  readonly node_options: Record<BenchStage, string>;
  readonly incremental_tick_seconds: number;
  readonly incremental_updated_rows: number;
  readonly scaling: InitialLoadFigure[];
  readonly bundles: BundleFigure[];
  readonly load_avg_1m_at_end: number;
}

interface Databases {
  readonly totesysUrl: string;
  readonly warehouseUrl: string;
  /** Where the bench may create and drop databases of its own. */
  readonly adminUrl: string;
  readonly server: string;
  drop(): Promise<void>;
}

/** Two fresh databases on the machine's PostgreSQL, or the embedded one when nothing answers there. */
async function createDatabases(adminUrl: string, log: (line: string) => void): Promise<Databases> {
  const suffix = randomUUID().replace(/-/g, '').slice(0, 10);
  const names = [`totes_bench_src_${suffix}`, `totes_bench_wh_${suffix}`] as const;
  try {
    for (const name of names) await adminQuery(adminUrl, `CREATE DATABASE ${quoteIdent(name)}`);
  } catch (error) {
    log(`no PostgreSQL at ${adminUrl} (${(error as Error).message}); using the embedded one`);
    const embedded = await openDatabases({ region: REGION, stage: 'bench' }, resolve(projectRoot, '.totes'), log);
    // The embedded cluster's databases persist: the seed resets totesys, the warehouse is emptied.
    await adminQuery(embedded.warehouseUrl, 'DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS totes CASCADE; CREATE SCHEMA public');
    return { totesysUrl: embedded.totesysUrl, warehouseUrl: embedded.warehouseUrl, adminUrl: embedded.warehouseUrl, server: 'embedded', drop: async () => embedded.embedded?.stop() };
  }
  // TOTES_BENCH_LOG_SLOW_MS=<ms> has PostgreSQL log the warehouse statements slower than that (see the README's Performance section).
  const slowMs = Number(process.env.TOTES_BENCH_LOG_SLOW_MS);
  if (Number.isInteger(slowMs) && slowMs >= 0) await adminQuery(adminUrl, `ALTER DATABASE ${quoteIdent(names[1])} SET log_min_duration_statement = ${slowMs}`);
  return {
    totesysUrl: urlFor(adminUrl, names[0]),
    warehouseUrl: urlFor(adminUrl, names[1]),
    adminUrl,
    server: adminUrl.replace(/\/[^/]*$/, ''),
    drop: async () => {
      for (const name of names) await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    },
  };
}

/** What the stage workers run: bench/worker.ts, bundled as a function is for deployment. */
interface RunOptions extends BenchOptions {
  readonly workerBundle: string;
}

/** One figure per stage, in stage order. */
function perStage<T>(figure: (stage: BenchStage) => T): Record<BenchStage, T> {
  return { extract: figure('extract'), transform: figure('transform'), load: figure('load') };
}

/** The stage's heap budget: the deployed function's (its NODE_OPTIONS), unless --heap-mb overrides it. */
function heapFor(stage: BenchStage, options: BenchOptions): number {
  return options.heapMb ?? stackDefinition.functionSettings[stage].heapMb;
}

/** The stage function's NODE_OPTIONS as deployed, with --heap-mb's budget when given. */
function nodeOptionsFor(stage: BenchStage, options: BenchOptions): string[] {
  return stackDefinition.functionSettings[stage].nodeOptions
    .split(' ')
    .map((option) => (option.startsWith('--max-old-space-size=') ? `--max-old-space-size=${heapFor(stage, options)}` : option));
}

/**
 * Bundles bench/worker.ts with the settings serverless-esbuild bundles each function with
 * (infra/stack.cjs), so a stage worker runs the handlers' code as Lambda does. Run through tsx,
 * its loader thread and TypeScript compilation had added ~60 MB to every worker's resident
 * memory that no deployed function has (the load handler: 121 MB after import under tsx, 57 MB
 * as its bundle). With TOTES_BENCH_PROFILE the bundle is not minified, so profiles name each function and line.
 */
async function bundleWorker(outputDir: string): Promise<string> {
  const { exclude, packager: _packager, outputFileExtension, mainFields, plugins, ...settings } = stackDefinition.esbuild;
  const outfile = join(outputDir, `worker${outputFileExtension}`);
  await build({
    ...settings,
    mainFields: [...mainFields],
    // `minifyIdentifiers: false` alone left the names minified: esbuild's `minify: true` wins.
    ...(process.env.TOTES_BENCH_PROFILE ? { minify: false } : {}),
    external: [...exclude],
    plugins: requireInfra(resolve(projectRoot, plugins)) as Plugin[],
    entryPoints: [resolve(projectRoot, 'bench/worker.ts')],
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}

function runWorker(spec: WorkerSpec, options: RunOptions): Promise<WorkerResult> {
  const log = options.log;
  return new Promise((resolvePromise, reject) => {
    // TOTES_BENCH_PROFILE=<dir> writes a V8 CPU profile of every worker there (see the README's Performance section).
    const profile = process.env.TOTES_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', resolve(process.env.TOTES_BENCH_PROFILE)] : [];
    const child = spawn(process.execPath, [...profile, ...nodeOptionsFor(spec.stage, options), options.workerBundle], {
      cwd: projectRoot,
      env: { ...process.env, TOTES_BENCH_WORKER: JSON.stringify(spec), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-8000);
      for (const line of chunk.toString().split('\n')) if (line.startsWith('{"level":"error"')) log(`  ${spec.stage} worker: ${line.slice(0, 600)}`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) reject(new Error(`${spec.stage} worker exited with ${code}: ${stderr}`));
      else resolvePromise(JSON.parse(last) as WorkerResult);
    });
  });
}

function workerSpec(stage: BenchStage, environment: LocalEnvironment, aws: { region: string; endpoint: string }, upstreamDoneFile?: string): WorkerSpec {
  const queue = stage === 'extract' ? undefined : environment.outputs.queues[stage];
  return {
    stage,
    config: environment.config,
    aws,
    queueUrl: queue?.url,
    queueArn: queue?.arn,
    functionName: `totes-${environment.outputs.stage}-${stage}`,
    batchSize: stage === 'extract' ? 1 : consumerBatchSize(stage),
    timeoutMs: 60 * 60_000,
    ...(upstreamDoneFile ? { upstreamDoneFile } : {}),
  };
}

/**
 * One stage's worker processes, started at once and awaited: one extract (one invocation), or
 * `--workers` transform or load processes, each with its deployed heap budget.
 */
function spawnWorkers(stage: BenchStage, environment: LocalEnvironment, aws: { region: string; endpoint: string }, options: RunOptions, upstreamDoneFile?: string): Promise<WorkerResult[]> {
  const processes = stage === 'extract' ? 1 : options.workers;
  const spec = workerSpec(stage, environment, aws, upstreamDoneFile);
  return Promise.all(Array.from({ length: processes }, () => runWorker(spec, options)));
}

/** What one stage's workers did together. */
function stageFigure(stage: BenchStage, results: readonly WorkerResult[]): StageFigure {
  const processes = results.length;
  const seconds = (Math.max(...results.map((result) => result.lastWorkAt)) - Math.min(...results.map((result) => result.startedAt))) / 1000;
  const sum = (pick: (result: WorkerResult) => number) => results.reduce((total, result) => total + pick(result), 0);
  // Extract rows are its own report's; downstream, a key seen twice (a repeated notification) counts once.
  const byKey = new Map<string, number>();
  for (const result of results) for (const [key, keyRows] of Object.entries(result.rowsByKey)) byKey.set(key, keyRows);
  const seen = sum((result) => result.loggedObjects);
  const rows = stage === 'extract' ? sum((result) => result.rows) : [...byKey.values()].reduce((total, keyRows) => total + keyRows, 0);
  return {
    rows,
    seconds,
    rows_per_s: rows / seconds,
    peak_rss_mb: Math.max(...results.map((result) => result.peakRssMb)),
    cpu_seconds: sum((result) => result.cpuSeconds),
    full_collections: sum((result) => result.gc.full),
    young_collections: sum((result) => result.gc.young),
    gc_pause_seconds: sum((result) => result.gc.pauseSeconds),
    objects: sum((result) => result.objects),
    invocations: sum((result) => result.invocations),
    failed_attempts: sum((result) => result.failedAttempts),
    repeated_objects: seen - byKey.size,
    processes,
  };
}

async function scalar(url: string, sql: string, values: unknown[] = []): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ value: string }>(sql, values);
    return String(rows[0]?.value ?? '');
  } finally {
    await client.end();
  }
}

/** Resets the warehouse database to empty, for a second initial load into it. */
async function emptyWarehouse(warehouseUrl: string): Promise<void> {
  await adminQuery(warehouseUrl, 'DROP SCHEMA IF EXISTS public CASCADE; DROP SCHEMA IF EXISTS totes CASCADE; CREATE SCHEMA public');
}

/**
 * The initial load as deployed: extract, transform and load workers all start at once, and each
 * consumer polls its queue as its producer writes (Lambda starts a transform on the first
 * ingestion object, not after the last). A consumer stops once its producer has finished and its
 * queue is empty: the runner marks each producer's end with a file the consumers look for.
 */
async function pipelinedRun(environment: LocalEnvironment, aws: { region: string; endpoint: string }, options: RunOptions): Promise<PipelinedFigure> {
  const flags = await mkdtemp(join(tmpdir(), 'totes-bench-flags-'));
  const extractDone = join(flags, 'extract-done');
  const transformDone = join(flags, 'transform-done');
  try {
    const extracting = spawnWorkers('extract', environment, aws, options).finally(() => writeFile(extractDone, ''));
    const transforming = spawnWorkers('transform', environment, aws, options, extractDone).finally(() => writeFile(transformDone, ''));
    const loading = spawnWorkers('load', environment, aws, options, transformDone);
    const [extract, transform, load] = await Promise.all([extracting, transforming, loading]);
    const all = [...extract, ...transform, ...load];
    // Until the last load returned: the warehouse holds every row from then on.
    const seconds = (Math.max(...load.map((result) => result.lastWorkAt)) - Math.min(...all.map((result) => result.startedAt))) / 1000;
    return {
      seconds,
      rows_per_s: extract.reduce((total, result) => total + result.salesOrders, 0) / seconds,
      stages: { extract: stageFigure('extract', extract), transform: stageFigure('transform', transform), load: stageFigure('load', load) },
    };
  } finally {
    await rm(flags, { recursive: true, force: true });
  }
}

/** Fails the run unless the warehouse holds every sales order and no DLQ holds anything. */
async function checkComplete(environment: LocalEnvironment, warehouseUrl: string, salesOrders: number, run: string): Promise<Record<string, number>> {
  const deadLetters = await new LocalPipeline(environment).deadLetters();
  if (deadLetters.length > 0) throw new Error(`the ${run} initial load left dead letters: ${JSON.stringify(deadLetters)}`);
  const warehouseRows = await countWarehouseRows(warehouseUrl);
  if (warehouseRows.fact_sales_order !== salesOrders) {
    throw new Error(`the warehouse has ${warehouseRows.fact_sales_order} sales orders after the ${run} initial load, expected ${salesOrders}`);
  }
  return warehouseRows;
}

interface Scenario {
  readonly figure: InitialLoadFigure;
  readonly environment: LocalEnvironment;
  readonly databases: Databases;
}

/**
 * One scale: fresh databases, the seed, the limit, then the initial load stage by stage — all
 * extract, then all transform, then all load — each stage in worker processes of its own. The
 * stages do not overlap, so each one's rate and memory are its own, and the end-to-end time is
 * their sum: an upper bound on the time of the deployed pipeline, where they overlap.
 */
async function initialLoad(salesOrders: number, moto: RunningMoto, options: RunOptions): Promise<Scenario> {
  const { log } = options;
  const databases = await createDatabases(options.adminUrl ?? DEFAULT_ADMIN_URL, log);
  try {
    log(`[${salesOrders.toLocaleString('en-GB')}] seeding totesys…`);
    const seedStarted = performance.now();
    await seedTotesys({ url: databases.totesysUrl, scale: salesOrders, reset: true });
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    log(`[${salesOrders.toLocaleString('en-GB')}] seeded in ${seedSeconds.toFixed(1)} s; measuring the COPY limit…`);
    const limit: LimitResult = await measureLimit(databases.totesysUrl, databases.warehouseUrl);
    const attempts = limit.attemptsRowsPerS.map((rate) => Math.round(rate).toLocaleString('en-GB')).join(' / ');
    log(`[${salesOrders.toLocaleString('en-GB')}] limit: ${Math.round(limit.rowsPerS).toLocaleString('en-GB')} rows/s, the fastest of ${attempts} (load avg ${loadavg()[0]?.toFixed(1)})`);

    const openStack = () =>
      openLocalEnvironment({
        env: { totesysDbUrl: databases.totesysUrl, warehouseDbUrl: databases.warehouseUrl, awsEndpoint: moto.endpoint, region: REGION, stage: `bench${randomUUID().slice(0, 8)}` },
        // Long enough that a batch of large objects is never redelivered while still being worked on.
        visibilityTimeoutSeconds: 180,
      });
    const aws = { region: REGION, endpoint: moto.endpoint };
    const at = `[${salesOrders.toLocaleString('en-GB')}]`;

    // 1. Stage by stage, each alone on the machine: each stage's own rate and memory.
    const staged = await openStack();
    const stages = {} as Record<BenchStage, StageFigure>;
    for (const stage of ['extract', 'transform', 'load'] as const) {
      stages[stage] = stageFigure(stage, await spawnWorkers(stage, staged, aws, options));
      const figure = stages[stage];
      log(`${at} ${stage}: ${figure.rows.toLocaleString('en-GB')} rows in ${figure.seconds.toFixed(1)} s = ${Math.round(figure.rows_per_s).toLocaleString('en-GB')} rows/s, ${figure.cpu_seconds.toFixed(1)} CPU s (${figure.full_collections} full collections), peak RSS ${figure.peak_rss_mb.toFixed(0)} MB (load avg ${loadavg()[0]?.toFixed(1)})`);
    }
    const sequentialSeconds = stages.extract.seconds + stages.transform.seconds + stages.load.seconds;
    await checkComplete(staged, databases.warehouseUrl, salesOrders, 'stage-by-stage');
    // One stream per core: at 1M on 2 cores, 3 and 4 streams took 6.2 s where 2 took 5.7 s.
    const floor = await measureWarehouseFloor(databases.adminUrl, databases.warehouseUrl, cpus().length);
    const floorAttempts = floor.attemptsSeconds.map((seconds) => seconds.toFixed(2)).join(' / ');
    log(`${at} warehouse floor: PostgreSQL alone writes the ${floor.rows.toLocaleString('en-GB')} star rows in ${floor.seconds.toFixed(2)} s, the fastest of ${floorAttempts} (${floor.streams} streams): at most ${Math.round(salesOrders / floor.seconds).toLocaleString('en-GB')} sales orders/s end to end`);

    // 2. Pipelined, as deployed: the same source into an empty warehouse through a fresh stack.
    await emptyWarehouse(databases.warehouseUrl);
    const environment = await openStack();
    const pipelined = await pipelinedRun(environment, aws, options);
    log(`${at} pipelined (all stages at once): ${salesOrders.toLocaleString('en-GB')} sales orders in ${pipelined.seconds.toFixed(1)} s = ${Math.round(pipelined.rows_per_s).toLocaleString('en-GB')} rows/s; stage by stage it took ${sequentialSeconds.toFixed(1)} s (load avg ${loadavg()[0]?.toFixed(1)})`);
    const warehouseRows = await checkComplete(environment, databases.warehouseUrl, salesOrders, 'pipelined');
    return {
      environment,
      databases,
      figure: {
        sales_orders: salesOrders,
        seed_seconds: seedSeconds,
        limit_rows_per_s: limit.rowsPerS,
        limit_seconds: limit.seconds,
        limit_attempts_rows_per_s: limit.attemptsRowsPerS,
        warehouse_floor: { rows: floor.rows, seconds: floor.seconds, attempts_seconds: floor.attemptsSeconds, streams: floor.streams },
        floor_end_to_end_rows_per_s: salesOrders / floor.seconds,
        seconds: pipelined.seconds,
        end_to_end_rows_per_s: salesOrders / pipelined.seconds,
        sequential_seconds: sequentialSeconds,
        sequential_end_to_end_rows_per_s: salesOrders / sequentialSeconds,
        pipelined,
        stages,
        warehouse_rows: warehouseRows,
        load_avg_1m: loadavg()[0] ?? 0,
      },
    };
  } catch (error) {
    await databases.drop().catch(() => undefined);
    throw error;
  }
}

/**
 * One incremental tick: 1% of sales orders get a new version (one new last_updated, later than
 * any before), then the clock runs from the tick until the warehouse holds every new version.
 */
async function incrementalTick(scenario: Scenario, log: (line: string) => void): Promise<{ seconds: number; updated: number }> {
  const { totesysUrl, warehouseUrl } = scenario.databases;
  const stamp = await scalar(totesysUrl, "SELECT to_char(max(last_updated) + interval '1 second', 'YYYY-MM-DD HH24:MI:SS.US') AS value FROM sales_order");
  const updated = Number(
    await scalar(
      totesysUrl,
      'WITH changed AS (UPDATE sales_order SET units_sold = units_sold + 1, last_updated = $1::timestamp WHERE sales_order_id % 100 = 0 RETURNING 1) SELECT count(*) AS value FROM changed',
      [stamp],
    ),
  );
  const pipeline = new LocalPipeline(scenario.environment, { concurrency: 2 });
  const started = performance.now();
  const summary = await pipeline.tick();
  const visibleSql = 'SELECT count(*) AS value FROM fact_sales_order WHERE last_updated_date = $1::timestamp::date AND last_updated_time = $1::timestamp::time';
  let visible = Number(await scalar(warehouseUrl, visibleSql, [stamp]));
  while (visible < updated && performance.now() - started < 120_000) {
    await new Promise((resolveTimer) => setTimeout(resolveTimer, 100));
    visible = Number(await scalar(warehouseUrl, visibleSql, [stamp]));
  }
  const seconds = (performance.now() - started) / 1000;
  if (!summary.ok || visible !== updated) throw new Error(`incremental tick: ${visible} of ${updated} updates visible, tick ok=${summary.ok}`);
  log(`incremental tick: ${updated.toLocaleString('en-GB')} updated sales orders visible in the warehouse after ${seconds.toFixed(2)} s (load avg ${loadavg()[0]?.toFixed(1)})`);
  return { seconds, updated };
}

/** The whole benchmark; see bench/run.ts for the command line and the README's Performance section for the figures. */
export async function runBench(benchOptions: BenchOptions): Promise<BenchResult> {
  const startedAt = new Date().toISOString();
  const bundleDir = await mkdtemp(join(tmpdir(), 'totes-bench-worker-'));
  try {
    return await runScenarios(startedAt, { ...benchOptions, workerBundle: await bundleWorker(bundleDir) });
  } finally {
    await rm(bundleDir, { recursive: true, force: true });
  }
}

/** Every point of the scaling curve, the tick and the bundles, in one moto started for them. */
async function runScenarios(startedAt: string, options: RunOptions): Promise<BenchResult> {
  const moto = await startMoto();
  const scaling: InitialLoadFigure[] = [];
  try {
    for (const scale of [...new Set(options.scaling)].filter((scale) => scale !== options.salesOrders).sort((a, b) => a - b)) {
      const scenario = await initialLoad(scale, moto, options);
      scaling.push(scenario.figure);
      await scenario.databases.drop();
    }
    const main = await initialLoad(options.salesOrders, moto, options);
    try {
      const tick = await incrementalTick(main, options.log);
      const postgres = await scalar(main.databases.totesysUrl, "SELECT current_setting('server_version') AS value");
      const bundles = options.bundles ? await measureBundles() : [];
      for (const bundle of bundles) options.log(`bundle ${bundle.function}: ${bundle.zip_mb.toFixed(2)} MB zip, cold import ${bundle.cold_import_ms.toFixed(0)} ms`);
      return {
        started_at: startedAt,
        ...main.figure,
        cores: cpus().length,
        memory_gb: totalmem() / 1024 ** 3,
        node: process.version,
        postgres: `${postgres} (${main.databases.server})`,
        workers: options.workers,
        heap_mb: perStage((stage) => heapFor(stage, options)),
        node_options: perStage((stage) => nodeOptionsFor(stage, options).join(' ')),
        incremental_tick_seconds: tick.seconds,
        incremental_updated_rows: tick.updated,
        scaling: [...scaling, main.figure].sort((a, b) => a.sales_orders - b.sales_orders),
        bundles,
        load_avg_1m_at_end: loadavg()[0] ?? 0,
      };
    } finally {
      await main.databases.drop();
    }
  } finally {
    await moto.stop();
  }
}
