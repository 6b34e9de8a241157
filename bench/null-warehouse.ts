import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { writeBinaryCopy } from '../src/db/warehouse-copy';
import { dimDate, fileColumns } from '../src/schemas/warehouse';
import { type RowBatches, type Warehouse, rowBatchesOf } from '../src/stages/load';

/**
 * A warehouse that formats every staged row as the COPY input PostgreSQL would read, then drops
 * it: what Node does for a load, without PostgreSQL's share (and its noise) in the figures.
 */
export function discardingWarehouse(options: { digest?: boolean } = {}): Warehouse & { bytesFormatted(): number; digest(): string | undefined } {
  let bytes = 0;
  // Optional, as hashing costs CPU: it shows two versions of the load format identical COPY input.
  const hash = options.digest ? createHash('sha256') : undefined;
  const sink = () => new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      bytes += chunk.length;
      hash?.update(chunk);
      done();
    },
  });
  const stage = async (rows: RowBatches) => writeBinaryCopy(sink(), rows.columns, rows);
  return {
    async applyFacts(_table, rows, meta) {
      // In the PostgreSQL warehouse's order: facts, then the dates they refer to.
      await stage(rows);
      await stage(rowBatchesOf(fileColumns(dimDate), meta.dates()));
      return { status: 'applied', rowsApplied: rows.rowCount };
    },
    async applyDimension(_table, rows) {
      await stage(rows);
      return { rowsApplied: rows.rowCount };
    },
    async applyDates(rows) {
      await stage(rows);
      return { rowsApplied: rows.rowCount };
    },
    bytesFormatted: () => bytes,
    digest: () => hash?.digest('hex'),
  };
}
