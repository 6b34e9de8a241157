/**
 * `npm run bench`: the physical-limit COPY, the initial load stage by stage, one incremental tick,
 * the scaling curve and the Lambda bundles, printed as a markdown table and written as JSON.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { markdownReport } from './report';
import { runBench } from './runner';

// The SDK warns that its 2027 releases need Node 22; Lambda runs 22 and the bench pins its SDK.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

function count(value: string): number {
  const parsed = Number(value.replace(/_/g, ''));
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`expected a positive whole number, got ${value}`);
  return parsed;
}

function counts(value: string): number[] {
  return value === 'none' ? [] : value.split(/[\s,;]+/).filter(Boolean).map(count);
}

const program = new Command('bench')
  .description('Benchmark the pipeline on the local stack against the COPY limit of this machine')
  .option('--sales-orders <n>', 'sales orders to seed', count, 1_000_000)
  .option('--scaling <list>', 'other sales-order counts for the scaling curve, separated by spaces or commas (100_000 is one number), or none', counts, [100_000])
  .option('--workers <n>', 'transform and load worker processes at once', count, 2)
  .option('--heap-mb <n>', "V8 heap budget of every stage worker (--max-old-space-size); default: each function's deployed budget (infra/stack.cjs)", count)
  .option('--json <file>', 'also write the figures to this file')
  .option('--no-bundles', 'skip packaging the Lambda bundles')
  .option('--no-latest', 'do not write bench/results/latest.json (for tests)')
  .option('--pg <url>', 'admin URL of the PostgreSQL to create the bench databases on', process.env.TOTES_BENCH_PG_URL)
  .exitOverride();

async function main(): Promise<void> {
  // Exiting (rather than dying on the signal) runs the exit hook that stops the bench's moto.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  program.parse(process.argv);
  const options = program.opts<{ salesOrders: number; scaling: number[]; workers: number; heapMb?: number; json?: string; bundles: boolean; latest: boolean; pg?: string }>();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const result = await runBench({ salesOrders: options.salesOrders, scaling: options.scaling, workers: options.workers, heapMb: options.heapMb, bundles: options.bundles, adminUrl: options.pg, log });
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const latest = resolve(import.meta.dirname, 'results/latest.json');
  for (const file of [...(options.latest ? [latest] : []), ...(options.json ? [resolve(options.json)] : [])]) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, json);
  }
  process.stdout.write(markdownReport(result));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if ((error as { code?: string }).code?.startsWith('commander.')) process.exit((error as { exitCode?: number }).exitCode ?? 2);
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
