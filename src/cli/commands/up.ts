import type { Command } from 'commander';
import { cliEnvironment } from '../../config';
import { openLocalEnvironment, type LocalEnvironment } from '../../local/environment';
import { createOutput } from '../output';

/** What another shell needs to point `totes run` and the operator commands at this stack. */
export function stackVariables(environment: LocalEnvironment): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: environment.aws.endpoint ?? '',
    AWS_REGION: environment.aws.region,
    TOTES_STAGE: environment.outputs.stage,
    TOTESYS_DB_URL: environment.totesysUrl,
    WAREHOUSE_DB_URL: environment.warehouseUrl,
  };
}

/** Resolves on Ctrl-C or SIGTERM. */
export function untilSignalled(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/**
 * Starts (or reuses) the local stack and keeps it up until `stop` resolves: embedded PostgreSQL
 * unless both database URLs are set, moto unless AWS_ENDPOINT_URL is set; provisioning is
 * idempotent, so running it against a stack that is already up changes nothing.
 */
export async function runUp(options: { json?: boolean }, stop: () => Promise<void> = untilSignalled, write?: (text: string) => void): Promise<Record<string, string>> {
  const output = createOutput(Boolean(options.json), write);
  const environment = await openLocalEnvironment({ env: cliEnvironment(), log: output.line });
  try {
    const variables = stackVariables(environment);
    output.data(variables);
    output.line('');
    output.line(`the local stack of stage ${environment.outputs.stage} is up; in another shell:`);
    output.line('');
    output.line(`export ${Object.entries(variables).map(([name, value]) => `${name}=${shellQuote(value)}`).join(' ')}`);
    output.line('');
    output.line('then: totes run --once, totes status, totes dlq list transform, …  (Ctrl-C here stops the stack)');
    await stop();
    return variables;
  } finally {
    output.line('stopping the local stack');
    await environment.close();
  }
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('Start (or reuse) the local stack, provision it, print its variables, and keep it up until Ctrl-C')
    .option('--json', 'print the variables as JSON')
    .addHelpText(
      'after',
      '\nStarts embedded PostgreSQL unless TOTESYS_DB_URL and WAREHOUSE_DB_URL are set, and an AWS emulator (moto) unless\nAWS_ENDPOINT_URL is set; provisions infra/stack.cjs for TOTES_STAGE (default local).\n\nExamples:\n  totes up\n  TOTESYS_DB_URL=postgres://postgres@localhost/totesys WAREHOUSE_DB_URL=postgres://postgres@localhost/warehouse totes up',
    )
    .action(async (options: { json?: boolean }) => {
      await runUp(options);
    });
}
