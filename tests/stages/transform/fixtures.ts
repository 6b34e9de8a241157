import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { buildIngestionKey } from '../../../src/schemas/keys';
import type { TableDef } from '../../../src/schemas/columns';
import type { Row } from '../../../src/schemas/rows';
import { sourceIdColumn, sourceTable } from '../../../src/schemas/source';
import type { SourceStateStore, StateTableName } from '../../../src/stages/transform/state';
import { silentLogger } from '../../../src/observability/logger';
import type { TransformDeps } from '../../../src/stages/transform';
import { MemoryObjectStore } from '../../support/memory-object-store';

const dataDir = join(import.meta.dirname, '../../../data');

export type JsonRow = Record<string, string | number | boolean | null>;

/** Rows of a real totesys JSON export (data/README.md), e.g. `totesys-snapshot-2024-05/staff.json`. */
export function realRows(relativePath: string): JsonRow[] {
  return JSON.parse(readFileSync(join(dataDir, relativePath), 'utf8')) as JsonRow[];
}

/** The November 2024 extraction files of a table, oldest first: `[runTime, rows]`. */
export function updateFiles(table: string): Array<[string, JsonRow[]]> {
  const dir = join(dataDir, 'totesys-updates-2024-11', table);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => [name.replace(/\.json$/, ''), realRows(`totesys-updates-2024-11/${table}/${name}`)]);
}

/** A field as PostgreSQL's COPY … CSV writes it: NULL unquoted and empty, `""` the empty string. */
function pgCsvField(value: JsonRow[string] | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  const text = String(value);
  return text === '' || /[",\r\n]/.test(text) || text === '\\.' ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The CSV that `COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER)` writes for these rows. */
export function toPgCsv(table: TableDef, rows: readonly JsonRow[], columns = table.columns.map((column) => column.name)): string {
  const lines = [columns.map(pgCsvField).join(',')];
  for (const row of rows) lines.push(columns.map((column) => pgCsvField(row[column])).join(','));
  return `${lines.join('\n')}\n`;
}

let runCounter = 0;

/** A fresh ingestion key for a table; each call names a new extract run. */
export function ingestionKey(table: string, options: { runDay?: string; to?: string } = {}): string {
  runCounter += 1;
  return buildIngestionKey({
    table,
    runDay: options.runDay ?? '2024-11-21',
    window: { from: null, to: options.to ?? '2024-11-20 16:25:45.036' },
    runId: `run${String(runCounter).padStart(5, '0')}`,
    part: 1,
  });
}

/** The same conditional "newer last_updated wins" semantics as the DynamoDB store, in memory. */
export class MemoryStateStore implements SourceStateStore {
  readonly tables = new Map<StateTableName, Map<number, Row>>();

  async putLatest(table: StateTableName, idColumn: string, rows: readonly Row[]): Promise<void> {
    const stored = this.tables.get(table) ?? new Map<number, Row>();
    this.tables.set(table, stored);
    for (const row of rows) {
      const id = row[idColumn] as number;
      const held = stored.get(id);
      if (!held || (held.last_updated as string) <= (row.last_updated as string)) stored.set(id, row);
    }
  }

  async readAll(table: StateTableName): Promise<Row[]> {
    return [...(this.tables.get(table)?.values() ?? [])];
  }
}

export interface TransformFixture {
  readonly ingestion: MemoryObjectStore;
  readonly processed: MemoryObjectStore;
  readonly state: SourceStateStore;
  readonly deps: TransformDeps;
  /** Puts a CSV of these rows into the ingestion store and returns its key. */
  putCsv(table: string, rows: readonly JsonRow[], options?: { runDay?: string }): Promise<string>;
  putRaw(table: string, body: string, runDay?: string): Promise<string>;
}

export function createTransformFixture(options: { state?: SourceStateStore; rowGroupSize?: number } = {}): TransformFixture {
  const ingestion = new MemoryObjectStore();
  const processed = new MemoryObjectStore();
  const state = options.state ?? new MemoryStateStore();
  const deps: TransformDeps = {
    ingestion, processed, state, logger: silentLogger,
    ...(options.rowGroupSize ? { settings: { rowGroupSize: options.rowGroupSize } } : {}),
  };
  const putRaw = async (table: string, body: string, runDay?: string) => {
    const key = ingestionKey(table, { runDay });
    await ingestion.putNew(key, body);
    return key;
  };
  return {
    ingestion, processed, state, deps,
    putCsv: (table, rows, putOptions) => putRaw(table, toPgCsv(sourceTable(table), rows), putOptions?.runDay),
    putRaw,
  };
}

/** The id column of a source table, for sorting fixtures. */
export const idOf = (table: string) => sourceIdColumn(sourceTable(table));

/**
 * DuckDB reading the Parquet bytes from a file: a reader sharing no code with the writer, so
 * types and values are checked independently of our own decoder.
 */
export class DuckReader {
  private constructor(
    private readonly dir: string,
    private readonly connection: DuckDBConnection,
  ) {}

  static async create(): Promise<DuckReader> {
    const dir = await mkdtemp(join(tmpdir(), 'totes-transform-'));
    const instance = await DuckDBInstance.create(':memory:');
    return new DuckReader(dir, await instance.connect());
  }

  private async file(bytes: Uint8Array): Promise<string> {
    const path = join(this.dir, `${Math.random().toString(36).slice(2)}.parquet`);
    await writeFile(path, bytes);
    return path;
  }

  /** Every row, values as DuckDB renders them to JSON (DECIMAL '19.99', DATE '2024-01-02', TIME '14:20:52.186'). */
  async rows(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
    const path = await this.file(bytes);
    const reader = await this.connection.runAndReadAll(`select * from read_parquet('${path}')`);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  }

  /** Column name → DuckDB type name (`DECIMAL(10,2)`, `TIME`, `DATE`, `INTEGER`, …). */
  async types(bytes: Uint8Array): Promise<Record<string, string>> {
    const path = await this.file(bytes);
    const reader = await this.connection.runAndReadAll(`select * from read_parquet('${path}') limit 0`);
    const types = reader.columnTypes().map(String);
    return Object.fromEntries(reader.columnNames().map((name, index) => [name, types[index] ?? '']));
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** How DuckDB prints a TIME: trailing zeros of the fraction dropped (`14:20:52.186`). */
export function duckTime(time: string): string {
  return time.replace(/0+$/, '').replace(/\.$/, '');
}
