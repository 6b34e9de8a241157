import type { Command } from 'commander';
import { formatAge, pipelineStatus } from '../../ops/status';
import { IncompleteRunError } from '../errors';
import { ENVIRONMENT_HELP, withOperatorStack } from '../operator';
import { createOutput, formatTable } from '../output';

/** `totes status`: watermarks, queue depths and the last extract; exit 1 when something needs attention. */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('Show each table\'s watermark and age, the depth of every queue and DLQ, and the last extract')
    .option('--json', 'print the status as JSON')
    .addHelpText('after', `\nExits 1 when a DLQ holds messages or the last extract failed.\n\nExamples:\n  totes status\n  TOTES_STAGE=prod AWS_PROFILE=ops totes status --json${ENVIRONMENT_HELP}`)
    .action(async (options: { json?: boolean }) => {
      const output = createOutput(Boolean(options.json));
      const status = await withOperatorStack((clients, stack) => pipelineStatus(clients, stack));
      output.data(status);
      output.line(`stage ${status.stage}`);
      output.line('');
      output.line('watermarks:');
      output.line(formatTable(status.watermarks.map((w) => ({ table: w.table, watermark: w.watermark ?? 'never extracted', age: formatAge(w.ageSeconds), updated: w.updatedAt }))));
      output.line('');
      output.line('queues:');
      output.line(formatTable(status.queues.map((q) => ({ queue: q.queue, visible: q.visible, 'in flight': q.inFlight, delayed: q.delayed }))));
      output.line('');
      const run = status.lastRun;
      output.line(run ? `last extract: ${run.finishedAt} ${run.ok ? 'ok' : 'FAILED'} (run ${run.runId}, ${run.tables.filter((t) => t.status === 'extracted').length} tables extracted)` : 'last extract: never');
      if (status.problems.length > 0) throw new IncompleteRunError(`needs attention:\n  ${status.problems.join('\n  ')}`);
      output.line('all clear');
    });
}

