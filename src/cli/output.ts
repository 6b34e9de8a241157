/** Printing for people (aligned tables) and for scripts (`--json`), the same data either way. */
export type TableRow = Record<string, string | number | boolean | null | undefined>;

export function formatTable(rows: readonly TableRow[], columns?: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const headers = columns ?? Object.keys(rows[0] ?? {});
  const cells = rows.map((row) => headers.map((header) => formatCell(row[header])));
  const widths = headers.map((header, index) => Math.max(header.length, ...cells.map((line) => (line[index] ?? '').length)));
  const render = (line: readonly string[]) =>
    line.map((cell, index) => (typeof rows[0]?.[headers[index] ?? ''] === 'number' ? cell.padStart(widths[index] ?? 0) : cell.padEnd(widths[index] ?? 0))).join('  ').trimEnd();
  return [render(headers), render(widths.map((width) => '-'.repeat(width))), ...cells.map(render)].join('\n');
}

function formatCell(value: TableRow[string]): string {
  if (value === null || value === undefined) return '-';
  return String(value);
}

export interface Output {
  readonly json: boolean;
  /** A progress or status line for people; suppressed in JSON mode so stdout stays parseable. */
  line(text: string): void;
  table(rows: readonly TableRow[], columns?: readonly string[]): void;
  data(value: unknown): void;
}

export function createOutput(json: boolean, write: (text: string) => void = (text) => process.stdout.write(text)): Output {
  return {
    json,
    line: (text) => {
      if (!json) write(`${text}\n`);
    },
    table: (rows, columns) => {
      if (json) write(`${JSON.stringify(rows, null, 2)}\n`);
      else write(`${formatTable(rows, columns)}\n`);
    },
    data: (value) => {
      if (json) write(`${JSON.stringify(value, null, 2)}\n`);
    },
  };
}
