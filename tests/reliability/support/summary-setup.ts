import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { emptyTally, summaryLine, type ReliabilityTally } from './tally';

/**
 * Gives the reliability test files a folder to write their tallies to, and prints the one
 * summary line after the run. It prints from the main process because vitest keeps a passing
 * test's console output to itself; and it fails the run if any row was lost or duplicated, in
 * case a file's own assertion was ever weakened.
 */
let folder: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  folder = await mkdtemp(join(tmpdir(), 'totes-reliability-'));
  project.provide('reliabilityTallyDir', folder);
}

export async function teardown(): Promise<void> {
  if (!folder) return;
  const files = (await readdir(folder)).filter((name) => name.endsWith('.json'));
  const total: ReliabilityTally = emptyTally();
  for (const name of files) {
    const tally = JSON.parse(await readFile(join(folder, name), 'utf8')) as ReliabilityTally;
    total.faults += tally.faults;
    total.badInputs += tally.badInputs;
    total.rowsChecked += tally.rowsChecked;
    total.lost += tally.lost;
    total.duplicated += tally.duplicated;
  }
  await rm(folder, { recursive: true, force: true });
  if (files.length === 0) return;
  process.stdout.write(`\n${summaryLine(total)}\n`);
  if (total.lost > 0 || total.duplicated > 0) process.exitCode = 1;
}

declare module 'vitest' {
  export interface ProvidedContext {
    reliabilityTallyDir: string;
  }
}
