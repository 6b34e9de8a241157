import type { Command } from 'commander';
import { cliEnvironment } from '../../config';
import { loadStackModel } from '../../local/stack-model';
import { REPLAY_KEY_HINT, replayObject, replayTarget } from '../../ops/replay';
import { UsageError } from '../errors';
import { ENVIRONMENT_HELP, withOperatorStack } from '../operator';
import { createOutput } from '../output';

/** `totes replay <s3-key>`: sends an object's S3 notification again. */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('Send one object\'s S3 notification again to the queue that consumes it (the object must exist)')
    .argument('<s3-key>', 'a .csv key under a source table (→ transform) or a .parquet key under a warehouse table (→ load)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `\nSafe to repeat: transform writes each output once and loads are idempotent.\n\nExamples:\n  totes replay currency/2024/11/20/currency__initial__20241120T152210.531518__a1b2c3d4__00001.csv\n  totes replay dim_currency/2024/11/20/currency__initial__20241120T152210.531518__a1b2c3d4__00001.parquet${ENVIRONMENT_HELP}`,
    )
    .action(async (key: string, options: { json?: boolean }) => {
      const output = createOutput(Boolean(options.json));
      if (!replayTarget(loadStackModel({ stage: cliEnvironment().stage }), key)) throw new UsageError(`no queue consumes ${key}`, REPLAY_KEY_HINT);
      const result = await withOperatorStack((clients, stack) => replayObject(clients, stack, key));
      output.data(result);
      output.line(`sent the notification of s3://${result.bucket}/${result.key} to the ${result.queue} queue (message ${result.messageId})`);
    });
}
