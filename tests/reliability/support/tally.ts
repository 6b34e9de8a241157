import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { Verdict } from '../model';

/** What one reliability test file contributes to the suite's summary line. */
export interface ReliabilityTally {
  faults: number;
  badInputs: number;
  rowsChecked: number;
  lost: number;
  duplicated: number;
}

export function emptyTally(): ReliabilityTally {
  return { faults: 0, badInputs: 0, rowsChecked: 0, lost: 0, duplicated: 0 };
}

export function summaryLine(tally: ReliabilityTally): string {
  return `reliability: ${tally.faults} faults, ${tally.badInputs} bad inputs, ${tally.rowsChecked} rows checked, ${tally.lost} lost, ${tally.duplicated} duplicated`;
}

/**
 * A test file's running tally, rewritten to its own file in the folder the global setup made
 * after every change, so a file that dies half-way still counts what it checked.
 */
export class TallyFile {
  private readonly tally = emptyTally();
  private readonly path = join(inject('reliabilityTallyDir'), `${randomUUID()}.json`);

  fault(): void {
    this.tally.faults += 1;
    this.flush();
  }

  badInput(): void {
    this.tally.badInputs += 1;
    this.flush();
  }

  /** Adds a model check; mismatched rows count as lost, since the source's version is not there. */
  verdict(verdict: Verdict): void {
    this.tally.rowsChecked += verdict.rowsChecked;
    this.tally.lost += verdict.lost.length + verdict.mismatched.length;
    this.tally.duplicated += verdict.duplicated.length;
    this.flush();
  }

  private flush(): void {
    writeFileSync(this.path, JSON.stringify(this.tally));
  }
}
