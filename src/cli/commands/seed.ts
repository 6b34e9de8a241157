import type { Command } from 'commander';
import { cliEnvironment } from '../../config';
import { DEFAULT_STATE_DIR, openDatabases } from '../../local/environment';
import { seedTotesys } from '../../seed/seed';
import { createOutput } from '../output';
import { wholeNumber } from './options';

export interface SeedCommandOptions {
  readonly scale?: number;
  readonly seed?: number;
  readonly reset?: boolean;
  readonly json?: boolean;
}

/** Seeds totesys at TOTESYS_DB_URL (or the embedded database) and prints the row counts. */
export async function runSeed(options: SeedCommandOptions, log: (line: string) => void): Promise<Record<string, number>> {
  const env = cliEnvironment();
  const databases = await openDatabases({ ...env, warehouseDbUrl: env.warehouseDbUrl ?? env.totesysDbUrl }, DEFAULT_STATE_DIR, log);
  try {
    log(`seeding totesys${options.scale === undefined ? '' : ` at scale ${options.scale.toLocaleString('en-GB')} sales orders`}…`);
    return await seedTotesys({
      url: databases.totesysUrl,
      scale: options.scale,
      seed: options.seed,
      reset: options.reset ?? false,
      logger: progressLogger(log),
    });
  } finally {
    await databases.embedded?.stop();
  }
}

function progressLogger(log: (line: string) => void) {
  const logger = {
    debug: () => undefined,
    info: (message: string, fields?: Record<string, unknown>) => log(`  ${message}${fields?.table ? ` ${String(fields.table)}` : ''}${fields?.rows !== undefined ? `: ${Number(fields.rows).toLocaleString('en-GB')} rows` : ''}`),
    warn: (message: string) => log(`  warning: ${message}`),
    error: (message: string) => log(`  error: ${message}`),
    child: () => logger,
  };
  return logger;
}

export function registerSeedCommand(program: Command): void {
  program
    .command('seed')
    .description('Create the totesys schema at TOTESYS_DB_URL (or the embedded database) and load the real rows plus generated ones')
    .option('--scale <salesOrders>', 'total sales orders: the real 8,307 plus generated ones (for benchmarks)', wholeNumber('--scale'))
    .option('--seed <n>', 'generator seed: the same seed and scale give identical data', wholeNumber('--seed'))
    .option('--reset', 'drop the totesys tables first if they exist (never touches other tables)')
    .option('--json', 'print the row counts as JSON')
    .addHelpText('after', '\nExamples:\n  totes seed --reset\n  TOTESYS_DB_URL=postgres://localhost/totesys totes seed --scale 1000000 --reset')
    .action(async (options: SeedCommandOptions) => {
      const output = createOutput(Boolean(options.json));
      const counts = await runSeed(options, output.line);
      output.table(Object.entries(counts).map(([table, rows]) => ({ table, rows })));
    });
}
