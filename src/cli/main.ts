import { Command, CommanderError } from 'commander';
import { reportCliError } from './errors';
import { registerSeedCommand } from './commands/seed';
import { registerRunCommand } from './commands/run';
import { registerDemoCommand } from './commands/demo';
import { registerDashboardCommand } from './commands/dashboard';
import { registerUpCommand } from './commands/up';
import { registerStatusCommand } from './commands/status';
import { registerDlqCommand } from './commands/dlq';
import { registerWatermarkCommand } from './commands/watermark';
import { registerReplayCommand } from './commands/replay';

/**
 * The totes CLI. Each command lives in its own file under ./commands and only wires options to
 * library functions; errors from every command end in `reportCliError`.
 */
export function buildProgram(): Command {
  const program = new Command('totes')
    .description('Event-driven ETL from the totesys database to a star-schema warehouse')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerSeedCommand(program);
  registerRunCommand(program);
  registerDemoCommand(program);
  registerDashboardCommand(program);
  registerUpCommand(program);
  registerStatusCommand(program);
  registerDlqCommand(program);
  registerWatermarkCommand(program);
  registerReplayCommand(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are "errors" to commander; they already printed what was asked.
      return error.exitCode === 0 ? 0 : 2;
    }
    return reportCliError(error);
  }
}
