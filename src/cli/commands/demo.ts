import type { Command } from 'commander';
import { LocalPipeline } from '../../local/pipeline';
import { createOutput } from '../output';
import { runSeed } from './seed';
import { reportTick, withLocalEnvironment } from './run';

/**
 * The quick start: seed a totesys database, run the whole pipeline once on the embedded
 * defaults, and show what reached the warehouse.
 */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Seed totesys and run the whole pipeline once locally (embedded PostgreSQL and AWS emulator by default)')
    .option('--json', 'print the summary as JSON')
    .action(async (options: { json?: boolean }) => {
      const output = createOutput(Boolean(options.json));
      output.line('1/3 seeding the totesys database');
      await runSeed({ reset: true }, output.line);
      output.line('2/3 starting the local stack');
      await withLocalEnvironment(output, async (environment) => {
        output.line('3/3 running one tick: extract → S3 → SQS → transform → S3 → SQS → load');
        const failure = reportTick(output, await new LocalPipeline(environment, { progress: output.line }).tick());
        if (failure) throw failure;
      });
    });
}
