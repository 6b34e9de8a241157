import * as z from 'zod';
import { isSourceTableName, type SourceTableName } from './source';
import { isWarehouseTableName, type WarehouseTableName } from './warehouse';

/**
 * The S3 key layout, the one contract both buckets share (see docs/contracts.md). No key is
 * built or parsed anywhere else.
 *
 * ingestion: <table>/<yyyy>/<mm>/<dd>/<table>__<from>__<to>__<run>__<part>.csv
 * processed: <warehouse_table>/<yyyy>/<mm>/<dd>/<table>__<from>__<to>__<run>__<part>.parquet
 *
 * The date folders are the extract run's UTC day. `from` is the exclusive lower watermark
 * (`initial` for a first load) and `to` the inclusive upper one, both source timestamps written
 * compactly (`20241120T152210.531518`), so the name tells which window of `last_updated` the
 * object covers. A processed key keeps its ingestion object's name, which makes the transform's
 * output key deterministic: reprocessing an input writes the same keys again.
 */

/** A source `last_updated` at full precision: `YYYY-MM-DD HH:MM:SS[.ffffff]`. */
export const sourceTimestampPattern = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;
export const SourceTimestamp = z.string().regex(sourceTimestampPattern, 'expected YYYY-MM-DD HH:MM:SS[.ffffff]');

/** Pads the fraction to microseconds, so timestamps compare correctly as plain strings. */
export function normaliseSourceTimestamp(value: string): string {
  const match = sourceTimestampPattern.exec(value);
  if (!match) throw new Error(`not a source timestamp: ${JSON.stringify(value)}`);
  const [, y, mo, d, h, mi, s, fraction = ''] = match;
  return `${y}-${mo}-${d} ${h}:${mi}:${s}.${fraction.padEnd(6, '0')}`;
}

const compactPattern = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{6})$/;

function compactTimestamp(value: string): string {
  const normalised = normaliseSourceTimestamp(value);
  return normalised.replace(/[-:]/g, '').replace(' ', 'T');
}

function expandTimestamp(compact: string): string {
  const match = compactPattern.exec(compact);
  if (!match) throw new Error(`not a compact timestamp: ${compact}`);
  const [, y, mo, d, h, mi, s, f] = match;
  return `${y}-${mo}-${d} ${h}:${mi}:${s}.${f}`;
}

export const INITIAL_WINDOW = 'initial';

export interface ExtractWindow {
  /** Exclusive lower bound (normalised), or null for a table's first extract. */
  readonly from: string | null;
  /** Inclusive upper bound (normalised): the highest `last_updated` in the window. */
  readonly to: string;
}

export interface IngestionObject {
  readonly table: SourceTableName;
  /** The extract run's UTC day, `YYYY-MM-DD`. */
  readonly runDay: string;
  readonly window: ExtractWindow;
  /** Identifies the extract run, so two runs can never name the same object. */
  readonly runId: string;
  /** 1-based chunk number within the run. */
  readonly part: number;
}

export interface ProcessedObject {
  readonly warehouseTable: WarehouseTableName;
  readonly source: IngestionObject;
}

const runIdPattern = /^[a-z0-9]{4,32}$/;
const runDayPattern = /^(\d{4})-(\d{2})-(\d{2})$/;

function baseName(object: IngestionObject): string {
  if (!runIdPattern.test(object.runId)) throw new Error(`invalid run id ${object.runId}`);
  if (!Number.isInteger(object.part) || object.part < 1 || object.part > 99999) throw new Error(`invalid part ${object.part}`);
  const from = object.window.from === null ? INITIAL_WINDOW : compactTimestamp(object.window.from);
  const to = compactTimestamp(object.window.to);
  return `${object.table}__${from}__${to}__${object.runId}__${String(object.part).padStart(5, '0')}`;
}

function dayFolders(runDay: string): string {
  const match = runDayPattern.exec(runDay);
  if (!match) throw new Error(`invalid run day ${runDay}`);
  return `${match[1]}/${match[2]}/${match[3]}`;
}

export function buildIngestionKey(object: IngestionObject): string {
  return `${object.table}/${dayFolders(object.runDay)}/${baseName(object)}.csv`;
}

export function buildProcessedKey(object: ProcessedObject): string {
  return `${object.warehouseTable}/${dayFolders(object.source.runDay)}/${baseName(object.source)}.parquet`;
}

const keyPattern =
  /^([a-z_]+)\/(\d{4})\/(\d{2})\/(\d{2})\/([a-z_]+)__(initial|\d{8}T\d{6}\.\d{6})__(\d{8}T\d{6}\.\d{6})__([a-z0-9]{4,32})__(\d{5})\.(csv|parquet)$/;

function parseKey(key: string, extension: 'csv' | 'parquet'): { prefix: string; source: IngestionObject } | null {
  const match = keyPattern.exec(key);
  if (!match || match[10] !== extension) return null;
  const [, prefix = '', y, mo, d, table = '', from = '', to = '', runId = '', part = ''] = match;
  if (!isSourceTableName(table)) return null;
  return {
    prefix,
    source: {
      table,
      runDay: `${y}-${mo}-${d}`,
      window: { from: from === INITIAL_WINDOW ? null : expandTimestamp(from), to: expandTimestamp(to) },
      runId,
      part: Number(part),
    },
  };
}

/** Returns null for any key that is not an ingestion object, so callers can skip it. */
export function parseIngestionKey(key: string): IngestionObject | null {
  const parsed = parseKey(key, 'csv');
  if (!parsed || parsed.prefix !== parsed.source.table) return null;
  return parsed.source;
}

/** Returns null for any key that is not a processed object, so callers can skip it. */
export function parseProcessedKey(key: string): ProcessedObject | null {
  const parsed = parseKey(key, 'parquet');
  if (!parsed || !isWarehouseTableName(parsed.prefix)) return null;
  return { warehouseTable: parsed.prefix, source: parsed.source };
}
