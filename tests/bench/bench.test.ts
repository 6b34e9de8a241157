import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackDefinition } from '../../src/local/stack-model';
import { TEST_PG_ADMIN_URL } from '../support/pg';

const run = promisify(execFile);
const projectRoot = resolve(import.meta.dirname, '../..');

/**
 * Keeps the benchmark runner from rotting: the whole bench at a tiny scale (its own moto and
 * databases), checking that every figure is there and positive. Speed is not asserted: that is
 * what the benchmark itself reports.
 */
describe('npm run bench', () => {
  let dir: string;
  let result: Record<string, unknown>;
  let table: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'totes-bench-test-'));
    const json = join(dir, 'bench.json');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--sales-orders', '2000', '--scaling', '1000', '--no-bundles', '--no-latest', '--json', json, '--pg', TEST_PG_ADMIN_URL], {
      cwd: projectRoot,
      timeout: 170_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    table = stdout;
    result = JSON.parse(await readFile(json, 'utf8')) as Record<string, unknown>;
  }, 180_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every figure, positive, for the run and for each point of the scaling curve', () => {
    const positive = expect.any(Number) as unknown;
    const count = expect.any(Number) as unknown;
    const stage = { rows_per_s: positive, peak_rss_mb: positive, rows: positive, objects: positive, invocations: positive, full_collections: count, young_collections: count, gc_pause_seconds: count };
    const stages = { extract: stage, transform: stage, load: stage };
    const run = {
      sales_orders: expect.any(Number), limit_rows_per_s: positive, floor_end_to_end_rows_per_s: positive, warehouse_floor: { seconds: positive, rows: positive }, end_to_end_rows_per_s: positive, sequential_end_to_end_rows_per_s: positive, stages,
      pipelined: { seconds: positive, rows_per_s: positive, stages },
    };
    expect(result).toMatchObject({ ...run, sales_orders: 2000, incremental_tick_seconds: positive, incremental_updated_rows: 20, cores: positive, memory_gb: positive });
    // The limit is the fastest of its attempts.
    const attempts = result.limit_attempts_rows_per_s as number[];
    expect(attempts).toHaveLength(3);
    expect(result.limit_rows_per_s).toBe(Math.max(...attempts));
    // The warehouse floor wrote every star row the pipelined run loaded, and is its fastest attempt.
    const floor = result.warehouse_floor as { rows: number; seconds: number; attempts_seconds: number[] };
    const loaded = Object.values(result.warehouse_rows as Record<string, number>).reduce((total, rows) => total + rows, 0);
    expect(floor.rows).toBe(loaded);
    expect(floor.attempts_seconds).toHaveLength(3);
    expect(floor.seconds).toBe(Math.min(...floor.attempts_seconds));
    expect(result.floor_end_to_end_rows_per_s).toBeCloseTo(2000 / floor.seconds, 6);
    expect(result.scaling).toMatchObject([{ ...run, sales_orders: 1000 }, { ...run, sales_orders: 2000 }]);
    // The workers count V8's collections: even the smallest run has young ones.
    const stagesRun = result.stages as Record<string, { young_collections: number }>;
    expect(stagesRun.extract!.young_collections + stagesRun.transform!.young_collections + stagesRun.load!.young_collections).toBeGreaterThan(0);
    const numbers = JSON.stringify(result).match(/"(?:[a-z_]+_per_s|peak_rss_mb|incremental_tick_seconds|seconds)":-?[\d.e+]+/g) ?? [];
    expect(numbers.length).toBeGreaterThan(20);
    for (const figure of numbers) expect(Number(figure.split(':')[1]), figure).toBeGreaterThan(0);
  });

  it('prints the markdown table with each figure against the limit', () => {
    expect(table).toContain('| limit: COPY TO STDOUT → COPY FROM STDIN (sales_order), fastest of 3 |');
    expect(table).toMatch(/\| warehouse floor: .* \| [\d,]+ rows in [\d.]+ s: end to end at most [\d,]+ sales orders\/s \| \d+% \| \|/);
    expect(table).toMatch(/\| initial load end to end, pipelined as deployed .* \| \d+% \| ≥ 35% \|/);
    expect(table).toMatch(/\| initial load stage by stage .* \| \d+% \| \|/);
    expect(table).toMatch(/\| extract peak RSS \(per process; pipelined run\) \| \d+ MB; \d+ MB/);
    expect(table).toMatch(/\| load: [\d,]+ rows, \d+ objects, \d+ invocations, \d+ process(?:es)? \| [\d,]+ rows\/s \([\d.]+ s, [\d.]+ CPU s, \d+ full collections\) \|/);
    expect(table).toContain('### Scaling (initial load)');
  });

  it('says which NODE_OPTIONS each stage ran with: its deployed function\'s', () => {
    expect(result.node_options).toEqual({
      extract: stackDefinition.functionSettings.extract.nodeOptions,
      transform: stackDefinition.functionSettings.transform.nodeOptions,
      load: stackDefinition.functionSettings.load.nodeOptions,
    });
    expect(table).toContain(`NODE_OPTIONS extract \`${stackDefinition.functionSettings.extract.nodeOptions}\``);
  });
});
