import type { Command } from 'commander';
import { cliEnvironment } from '../../config';
import { openLocalEnvironment, type LocalEnvironment } from '../../local/environment';
import { LocalPipeline, type TickSummary } from '../../local/pipeline';
import { IncompleteRunError } from '../errors';
import { createOutput, type Output } from '../output';
import { duration } from './options';

export interface RunCommandOptions {
  readonly once?: boolean;
  readonly interval: number;
  readonly json?: boolean;
  readonly verbose?: boolean;
}

/** Prints what a tick did and returns an error naming what ended in a DLQ, if anything did. */
export function reportTick(output: Output, summary: TickSummary): IncompleteRunError | null {
  output.line('');
  output.line('warehouse rows:');
  output.table(Object.entries(summary.warehouseRows).map(([table, rows]) => ({ table, rows })));
  output.data(summary);
  const problems: string[] = [];
  if (summary.extractError) problems.push(`extract failed: ${summary.extractError}`);
  for (const letter of summary.deadLetters) problems.push(`in the ${letter.queue} DLQ: ${letter.key} — ${letter.reason}`);
  if (problems.length === 0) {
    output.line(`done in ${summary.seconds.toFixed(1)} s: everything loaded`);
    return null;
  }
  return new IncompleteRunError(`the run did not finish clean:\n  ${problems.join('\n  ')}\nfix the cause, then: totes dlq redrive <transform|load>`);
}

export async function withLocalEnvironment<T>(output: Output, work: (environment: LocalEnvironment) => Promise<T>): Promise<T> {
  const environment = await openLocalEnvironment({ env: cliEnvironment(), log: output.line });
  try {
    return await work(environment);
  } finally {
    await environment.close();
  }
}

export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('Run the pipeline locally: extract ticks, with transform and load driven by the local SQS event-source runtime')
    .option('--once', 'one extract tick, then drain the queues; exit 0 only if everything loaded')
    .option('--interval <duration>', 'time between ticks (e.g. 30s, 5m)', duration, 300)
    .option('--json', 'print each tick summary as JSON')
    .option('--verbose', "print the handlers' JSON log lines")
    .addHelpText('after', '\nUses TOTESYS_DB_URL, WAREHOUSE_DB_URL (embedded PostgreSQL when unset), AWS_ENDPOINT_URL (a moto_server is started when unset) and AWS_REGION.')
    .action(async (options: RunCommandOptions) => {
      const output = createOutput(Boolean(options.json));
      await withLocalEnvironment(output, async (environment) => {
        const pipeline = new LocalPipeline(environment, { progress: output.line, logLine: options.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined });
        if (options.once) {
          const failure = reportTick(output, await pipeline.tick());
          if (failure) throw failure;
          return;
        }
        await runForever(pipeline, output, options.interval);
      });
    });
}

async function runForever(pipeline: LocalPipeline, output: Output, intervalSeconds: number): Promise<void> {
  let stopping = false;
  let wake: () => void = () => undefined;
  const stop = () => {
    stopping = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopping) {
      output.line(`tick at ${new Date().toISOString()}`);
      const failure = reportTick(output, await pipeline.tick());
      if (failure) output.line(failure.message);
      if (stopping) break;
      output.line(`next tick in ${intervalSeconds} s (Ctrl-C to stop)`);
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, intervalSeconds * 1000).unref();
      });
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}
