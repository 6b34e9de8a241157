import type { Command } from 'commander';
import { DynamoFailureJournal } from '../../aws/failure-journal';
import type { QueueId } from '../../local/stack-model';
import { listDeadLetters, redriveDeadLetters } from '../../ops/dlq';
import { ENVIRONMENT_HELP, queueArgument, withOperatorStack } from '../operator';
import { createOutput } from '../output';
import { wholeNumber } from './options';

/** `totes dlq list|redrive <transform|load>`. */
export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('Inspect and redrive the dead-letter queues');

  dlq
    .command('list')
    .description('Peek at the messages in a DLQ (they stay there) with each object\'s last error from the failure journal')
    .argument('<queue>', 'transform or load', queueArgument)
    .option('--limit <n>', 'look at no more than n messages', wholeNumber('--limit', 1), 100)
    .option('--json', 'print the messages as JSON')
    .addHelpText('after', `\nExamples:\n  totes dlq list transform\n  totes dlq list load --json | jq '.[].error'${ENVIRONMENT_HELP}`)
    .action(async (queue: QueueId, options: { limit: number; json?: boolean }) => {
      const output = createOutput(Boolean(options.json));
      const letters = await withOperatorStack((clients, stack) =>
        listDeadLetters(clients.sqs, new DynamoFailureJournal(clients.dynamo, stack.tables.failures), stack.queues[queue].dlqUrl, { limit: options.limit }),
      );
      output.table(
        letters.map((letter) => ({
          key: letter.key,
          messageId: letter.messageId,
          failedAt: letter.failure?.at ?? null,
          attempts: letter.failure?.receiveCount ?? null,
          retryable: letter.failure?.retryable ?? null,
          error: letter.failure?.error ?? 'no failure recorded (older than the journal, or the message never reached the consumer)',
        })),
      );
      output.line(letters.length === 0 ? `the ${queue} DLQ is empty` : `${letters.length} objects in the ${queue} DLQ; after fixing the cause: totes dlq redrive ${queue}`);
    });

  dlq
    .command('redrive')
    .description('Move every message of a DLQ back to its queue, to be processed again')
    .argument('<queue>', 'transform or load', queueArgument)
    .option('--wait <seconds>', 'how long to wait for an AWS move task to finish', wholeNumber('--wait'), 300)
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `\nFix the cause first (see totes dlq list). Reprocessing is safe: transform writes each output once and loads are idempotent.\nOn AWS this starts a message move task; where that API is missing (the local emulator) messages are moved one by one,\nsent before deleted, so an interruption loses nothing.\n\nExamples:\n  totes dlq redrive transform\n  TOTES_STAGE=prod totes dlq redrive load --wait 600${ENVIRONMENT_HELP}`,
    )
    .action(async (queue: QueueId, options: { wait: number; json?: boolean }) => {
      const output = createOutput(Boolean(options.json));
      const result = await withOperatorStack((clients, stack) => redriveDeadLetters(clients.sqs, stack.queues[queue], { waitSeconds: options.wait, progress: output.line }));
      output.data(result);
      output.line(
        result.finished
          ? `moved ${result.moved} messages from the ${queue} DLQ back to the ${queue} queue`
          : `moved ${result.moved} messages so far; the move task ${result.taskHandle ?? ''} is still running (check with totes status)`,
      );
    });
}
