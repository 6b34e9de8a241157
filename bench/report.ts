import type { BenchResult } from './runner';

const int = (value: number) => Math.round(value).toLocaleString('en-GB');
const pct = (value: number, limit: number) => `${((value / limit) * 100).toFixed(0)}%`;

/** The figures as a markdown table, each rate with its ratio to the limit measured in the same run. */
export function markdownReport(result: BenchResult): string {
  const limit = result.limit_rows_per_s;
  const lines = [
    `## totes benchmark: ${int(result.sales_orders)} sales orders`,
    '',
    `${result.cores} cores, ${result.memory_gb.toFixed(0)} GB, Node ${result.node}, PostgreSQL ${result.postgres}; ${result.workers} transform/load worker processes; V8 heap budgets (--max-old-space-size, as deployed) extract ${result.heap_mb.extract} / transform ${result.heap_mb.transform} / load ${result.heap_mb.load} MB; NODE_OPTIONS extract \`${result.node_options.extract}\`, transform \`${result.node_options.transform}\`, load \`${result.node_options.load}\`; load average ${result.load_avg_1m.toFixed(1)} after the initial load, ${result.load_avg_1m_at_end.toFixed(1)} at the end.`,
    '',
    '| figure | value | vs limit | target |',
    '|---|---:|---:|---|',
    `| limit: COPY TO STDOUT → COPY FROM STDIN (sales_order), fastest of ${result.limit_attempts_rows_per_s.length} | ${int(limit)} rows/s | 100% | |`,
    `| warehouse floor: PostgreSQL alone writes the loaded star rows into an empty warehouse with the spec's keys (binary COPY, ${result.warehouse_floor.streams} streams), fastest of ${result.warehouse_floor.attempts_seconds.length}; no pipeline ends sooner | ${int(result.warehouse_floor.rows)} rows in ${result.warehouse_floor.seconds.toFixed(2)} s: end to end at most ${int(result.floor_end_to_end_rows_per_s)} sales orders/s | ${pct(result.floor_end_to_end_rows_per_s, limit)} | |`,
    `| initial load end to end, pipelined as deployed (sales orders / time from the extract's start to the last load's end) | ${int(result.end_to_end_rows_per_s)} rows/s (${result.seconds.toFixed(1)} s) | ${pct(result.end_to_end_rows_per_s, limit)} | ≥ 35% |`,
    `| initial load stage by stage (sales orders / sum of the stage times below) | ${int(result.sequential_end_to_end_rows_per_s)} rows/s (${result.sequential_seconds.toFixed(1)} s) | ${pct(result.sequential_end_to_end_rows_per_s, limit)} | |`,
  ];
  const targets = { extract: '≥ 80%', transform: '', load: '≥ 50%' };
  for (const stage of ['extract', 'transform', 'load'] as const) {
    const figure = result.stages[stage];
    lines.push(
      `| ${stage}: ${int(figure.rows)} rows, ${figure.objects} objects, ${figure.invocations} invocations, ${figure.processes} process${figure.processes > 1 ? 'es' : ''} | ${int(figure.rows_per_s)} rows/s (${figure.seconds.toFixed(1)} s, ${figure.cpu_seconds.toFixed(1)} CPU s, ${figure.full_collections} full collections) | ${pct(figure.rows_per_s, limit)} | ${targets[stage]} |`,
    );
  }
  for (const stage of ['extract', 'transform', 'load'] as const) {
    lines.push(`| ${stage} peak RSS (per process; pipelined run) | ${result.stages[stage].peak_rss_mb.toFixed(0)} MB; ${result.pipelined.stages[stage].peak_rss_mb.toFixed(0)} MB | | < 512 MB |`);
  }
  lines.push(`| incremental tick, ${int(result.incremental_updated_rows)} updated sales orders (1%) | ${result.incremental_tick_seconds.toFixed(2)} s | | ≤ 10 s |`);
  for (const bundle of result.bundles) {
    lines.push(`| ${bundle.function} bundle | ${bundle.zip_mb.toFixed(2)} MB zip, cold import ${bundle.cold_import_ms.toFixed(0)} ms | | ≤ 5 MB, ≤ 300 ms |`);
  }
  lines.push('', '### Scaling (initial load)', '', '| sales orders | limit rows/s | warehouse floor s (its end-to-end bound vs limit) | end to end rows/s (vs limit), pipelined | seconds pipelined / stage by stage | extract / transform / load rows/s | peak RSS MB extract / transform / load | load avg |', '|---:|---:|---:|---:|---:|---|---|---:|');
  for (const run of result.scaling) {
    const { extract, transform, load } = run.stages;
    lines.push(
      `| ${int(run.sales_orders)} | ${int(run.limit_rows_per_s)} | ${run.warehouse_floor.seconds.toFixed(2)} (${pct(run.floor_end_to_end_rows_per_s, run.limit_rows_per_s)}) | ${int(run.end_to_end_rows_per_s)} (${pct(run.end_to_end_rows_per_s, run.limit_rows_per_s)}) | ${run.seconds.toFixed(1)} / ${run.sequential_seconds.toFixed(1)} | ${int(extract.rows_per_s)} / ${int(transform.rows_per_s)} / ${int(load.rows_per_s)} | ${extract.peak_rss_mb.toFixed(0)} / ${transform.peak_rss_mb.toFixed(0)} / ${load.peak_rss_mb.toFixed(0)} | ${run.load_avg_1m.toFixed(1)} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
