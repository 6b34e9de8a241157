import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { csvStream } from '../src/db/warehouse-copy';
import { parquetColumnsFor } from '../src/parquet/codec';
import type { ColumnDef } from '../src/schemas/columns';
import type { Row } from '../src/schemas/rows';
import { dimDate, fileColumns } from '../src/schemas/warehouse';
import type { Warehouse } from '../src/stages/load';

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
  const stage = async (columns: readonly ColumnDef[], rows: readonly Row[]) => pipeline(csvStream(columns, rows), sink());
  return {
    async applyFacts(table, rows, meta) {
      await stage(fileColumns(dimDate), meta.dates);
      await stage(fileColumns(table), rows);
      return { status: 'applied', rowsApplied: rows.length };
    },
    async applyDimension(table, rows) {
      await stage(parquetColumnsFor(table), rows);
      return { rowsApplied: rows.length };
    },
    async applyDates(rows) {
      await stage(fileColumns(dimDate), rows);
      return { rowsApplied: rows.length };
    },
    bytesFormatted: () => bytes,
    digest: () => hash?.digest('hex'),
  };
}
