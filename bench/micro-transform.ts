/**
 * The transform of one ingestion object in isolation, for before/after comparisons of the hot
 * path: `node --import tsx bench/micro-transform.ts <csv file> [table]` transforms the file (a
 * PostgreSQL CSV of one source table, e.g. 100,000 sales orders) from an in-memory object store
 * and prints wall time, CPU time and peak RSS as JSON. CPU time is the figure to compare on a
 * busy machine: it does not count the time spent waiting for a core.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { buildIngestionKey } from '../src/schemas/keys';
import { isSourceTableName } from '../src/schemas/source';
import type { ObjectStore } from '../src/stages/ports';
import { transformObject, type SourceStateStore } from '../src/stages/transform';
import { silentLogger } from '../src/observability/logger';

const [file, table = 'sales_order', rowGroupSize] = process.argv.slice(2);
if (!file || !isSourceTableName(table)) throw new Error('usage: micro-transform.ts <csv file> [source table] [row group size]');
const csv = await readFile(file);
const key = buildIngestionKey({ table, runDay: '2026-01-01', window: { from: null, to: '2026-01-01 00:00:00.000000' }, runId: 'micro0001', part: 1 });
const written = new Map<string, number>();
const store: ObjectStore = {
  putNew: async (name, body) => {
    written.set(name, body instanceof Uint8Array ? body.byteLength : 0);
    return { created: true };
  },
  getBytes: async () => csv,
  // S3 hands the body over in chunks of this order of size.
  getStream: async () => Readable.from((function* () {
    for (let at = 0; at < csv.length; at += 65_536) yield csv.subarray(at, at + 65_536);
  })()),
  list: async () => [],
};
const state: SourceStateStore = { putLatest: async () => undefined, readAll: async () => [] };
const cpu = process.cpuUsage();
const started = performance.now();
const report = await transformObject({ key }, { ingestion: store, processed: store, state, logger: silentLogger, ...(rowGroupSize ? { settings: { rowGroupSize: Number(rowGroupSize) } } : {}) });
const used = process.cpuUsage(cpu);
process.stdout.write(`${JSON.stringify({
  rows: report.outputs.map((output) => `${output.table}:${output.rows}`).join(' '),
  wall_s: (performance.now() - started) / 1000,
  cpu_s: (used.user + used.system) / 1e6,
  peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  parquet_bytes: [...written.values()].reduce((a, b) => a + b, 0),
})}\n`);
