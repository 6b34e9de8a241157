import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { DynamoWatermarkStore } from '../../aws/dynamo-watermark-store';
import { normaliseSourceTimestamp, sourceTimestampPattern } from '../../schemas/keys';
import { isSourceTableName, sourceTableNames, type SourceTableName } from '../../schemas/source';
import { formatAge, watermarkAgeSeconds } from '../../ops/status';
import { UsageError } from '../errors';
import { ENVIRONMENT_HELP, withOperatorStack } from '../operator';
import { createOutput } from '../output';

export const REEXTRACT_IS_SAFE =
  're-extraction is safe: loads are idempotent (a fact version already loaded is skipped, a dimension keeps its newest version), so rows read again are absorbed, never duplicated';

/** Asks a yes/no question on the terminal; anything but y/yes is a no. */
export async function confirmOnTerminal(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await terminal.question(`${question} [y/N] `)).trim());
  } finally {
    terminal.close();
  }
}

/** A real calendar timestamp in the source's form, normalised; a usage error otherwise. */
export function parseResetTimestamp(raw: string): string {
  const match = sourceTimestampPattern.exec(raw.trim());
  const [, y, mo, d, h, mi, s] = (match ?? []).map(Number);
  const date = match ? new Date(Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 0, h ?? 0, mi ?? 0, s ?? 0)) : null;
  const real = date !== null && date.getUTCFullYear() === y && date.getUTCMonth() === (mo ?? 0) - 1 && date.getUTCDate() === d && (h ?? 0) < 24 && (mi ?? 0) < 60 && (s ?? 0) < 60;
  if (!real) throw new UsageError(`--to ${JSON.stringify(raw)} is not a timestamp`, "use the source's form, e.g. --to '2024-11-20 15:22:10' or '2024-11-20 15:22:10.531518' (UTC)");
  return normaliseSourceTimestamp(raw.trim());
}

export function parseSourceTable(raw: string): SourceTableName {
  if (!isSourceTableName(raw)) throw new UsageError(`unknown table ${JSON.stringify(raw)}`, `the source tables are: ${sourceTableNames.join(', ')}`);
  return raw;
}

export interface ResetOptions {
  readonly to?: string;
  readonly yes?: boolean;
  readonly json?: boolean;
}

export interface ResetIo {
  readonly isInteractive: boolean;
  readonly confirm: (question: string) => Promise<boolean>;
}

const terminalIo: ResetIo = { isInteractive: Boolean(process.stdin.isTTY), confirm: confirmOnTerminal };

/** Validates, confirms, then resets one table's watermark. */
export async function runWatermarkReset(rawTable: string, options: ResetOptions, io: ResetIo = terminalIo): Promise<void> {
  const output = createOutput(Boolean(options.json));
  const table = parseSourceTable(rawTable);
  const to = options.to === undefined ? null : parseResetTimestamp(options.to);
  const what = to === null ? `forget the watermark of ${table}: the next extract reads the whole table again` : `set the watermark of ${table} to ${to}: the next extract reads rows updated after it (less the late-commit window)`;
  if (!options.yes) {
    if (!io.isInteractive) throw new UsageError(`refusing to ${what} without confirmation`, 'stdin is not a terminal: pass --yes to confirm from a script');
    if (!(await io.confirm(`This will ${what}; ${REEXTRACT_IS_SAFE}. Continue?`))) {
      output.line('nothing changed');
      return;
    }
  }
  await withOperatorStack((clients, stack) => new DynamoWatermarkStore(clients.dynamo, stack.tables.watermark).reset(table, to));
  output.data({ table, watermark: to, reset: true });
  output.line(`${table}: watermark ${to === null ? 'cleared' : `set to ${to}`}; ${REEXTRACT_IS_SAFE}`);
}

/** `totes watermark list` and `totes watermark reset <table> [--to <timestamp>]`. */
export function registerWatermarkCommand(program: Command): void {
  const watermark = program.command('watermark').description('List or reset the extract watermarks');

  watermark
    .command('list')
    .description('Show each source table\'s watermark (the highest last_updated extracted), its age, and when it last moved')
    .option('--json', 'print the watermarks as JSON')
    .addHelpText('after', `\nExamples:\n  totes watermark list\n  totes watermark list --json${ENVIRONMENT_HELP}`)
    .action(async (options: { json?: boolean }) => {
      const output = createOutput(Boolean(options.json));
      const states = await withOperatorStack((clients, stack) => new DynamoWatermarkStore(clients.dynamo, stack.tables.watermark).list());
      const byTable = new Map(states.map((state) => [state.table, state]));
      const now = new Date();
      output.table(
        sourceTableNames.map((table) => {
          const state = byTable.get(table);
          const value = state?.watermark ?? null;
          return { table, watermark: value, age: value === null ? null : formatAge(watermarkAgeSeconds(value, now)), updatedAt: state?.updatedAt ?? null, leasedBy: state?.leaseOwner ?? null };
        }),
      );
    });

  watermark
    .command('reset')
    .description('Move a table\'s watermark back (or forget it) so the next extract reads its rows again')
    .argument('<table>', `a source table: ${sourceTableNames.join(', ')}`)
    .option('--to <timestamp>', "new watermark, 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC); omitted: re-extract the whole table")
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `\nRe-extraction is safe: loads are idempotent, so rows extracted again are absorbed, never duplicated.\n\nExamples:\n  totes watermark reset sales_order\n  totes watermark reset staff --to '2024-11-01 00:00:00' --yes${ENVIRONMENT_HELP}`,
    )
    .action((table: string, options: ResetOptions) => runWatermarkReset(table, options));
}
