/**
 * The load of one processed Parquet object in isolation, for before/after comparisons of the
 * Node side of the hot path (read, validate, format the COPY input):
 *
 *   node --import tsx bench/micro-load.ts --write <csv file> <source table> <dir>
 *     transforms a PostgreSQL CSV of one source table in memory and writes each Parquet object
 *     it produces to <dir>/<warehouse table>.parquet (e.g. /tmp/so100k.csv sales_order).
 *   node --import tsx bench/micro-load.ts <parquet file> <warehouse table>
 *     runs loadObject on that file against a warehouse that formats the COPY input exactly as
 *     the PostgreSQL warehouse does and discards it, then prints CPU time and peak RSS as JSON;
 *     `--digest` adds a SHA-256 of that COPY input, to show two versions produce the same.
 *
 * Run each measurement in a fresh process, so the peak RSS is the load's alone. CPU time is the
 * figure to compare on a busy machine: it does not count the time spent waiting for a core.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { silentLogger } from '../src/observability/logger';
import { buildIngestionKey, buildProcessedKey } from '../src/schemas/keys';
import { isSourceTableName } from '../src/schemas/source';
import { type WarehouseTableName, warehouseTable } from '../src/schemas/warehouse';
import { loadObject } from '../src/stages/load';
import type { ObjectStore } from '../src/stages/ports';
import { transformObject } from '../src/stages/transform';
import { discardingWarehouse } from './null-warehouse';

const sourceWindow = { runDay: '2026-01-01', window: { from: null, to: '2026-01-01 00:00:00.000000' }, runId: 'micro0001', part: 1 } as const;

function memoryStore(objects: Map<string, Uint8Array>): ObjectStore {
  return {
    putNew: async (name, body) => {
      if (!(body instanceof Uint8Array)) throw new Error('micro-load expects whole objects');
      objects.set(name, body);
      return { created: true };
    },
    getBytes: async (name) => {
      const body = objects.get(name);
      if (!body) throw new Error(`no object ${name}`);
      return body;
    },
    getStream: async (name) => Readable.from([objects.get(name) ?? new Uint8Array()]),
    list: async () => [...objects.keys()],
  };
}

async function writeParquet(csvFile: string, table: string, dir: string): Promise<void> {
  if (!isSourceTableName(table)) throw new Error(`not a source table: ${table}`);
  const objects = new Map<string, Uint8Array>();
  const key = buildIngestionKey({ table, ...sourceWindow });
  objects.set(key, await readFile(csvFile));
  const store = memoryStore(objects);
  const report = await transformObject({ key }, { ingestion: store, processed: store, state: { putLatest: async () => undefined, readAll: async () => [] }, logger: silentLogger });
  await mkdir(dir, { recursive: true });
  for (const output of report.outputs) {
    const file = join(dir, `${output.table}.parquet`);
    await writeFile(file, objects.get(output.key)!);
    process.stdout.write(`${file}: ${output.rows} rows\n`);
  }
}

async function measureLoad(parquetFile: string, table: string, digest: boolean): Promise<void> {
  const definition = warehouseTable(table as WarehouseTableName);
  const key = buildProcessedKey({ warehouseTable: definition.name, source: { table: 'sales_order', ...sourceWindow } });
  const objects = new Map([[key, new Uint8Array(await readFile(parquetFile))]]);
  const warehouse = discardingWarehouse({ digest });
  const rssBefore = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = await loadObject({ key }, { processed: memoryStore(objects), warehouse, logger: silentLogger });
  const used = process.cpuUsage(cpu);
  process.stdout.write(`${JSON.stringify({
    table: report.table,
    rows: report.rowsInFile,
    copy_bytes: warehouse.bytesFormatted(),
    wall_s: (performance.now() - started) / 1000,
    cpu_s: (used.user + used.system) / 1e6,
    rss_before_mb: rssBefore / 2 ** 20,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    ...(digest ? { copy_sha256: warehouse.digest() } : {}),
  })}\n`);
}

const args = process.argv.slice(2);
if (args[0] === '--write' && args.length === 4) await writeParquet(args[1]!, args[2]!, args[3]!);
else if (args.length === 2 || (args.length === 3 && args[2] === '--digest')) await measureLoad(args[0]!, args[1]!, args.length === 3);
else throw new Error('usage: micro-load.ts --write <csv file> <source table> <dir> | micro-load.ts <parquet file> <warehouse table> [--digest]');
