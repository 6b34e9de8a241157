import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { InvalidInputError, NotYetAvailableError, TotesError, type ErrorContext } from '../errors';
import { parquetColumnsFor } from '../parquet/codec';
import { type ColumnDef, quoteIdent, text } from '../schemas/columns';
import type { CellValue } from '../schemas/rows';
import { type DimensionDef, type FactDef, SOURCE_VERSION_COLUMN, dimDate, fileColumns, singleKeyColumn } from '../schemas/warehouse';
import type { ApplyMeta, FactApplyMeta, FactApplyOutcome, MissingReference, RowBatch, RowBatches, Warehouse } from '../stages/load/ports';
import { addColumnKeys, rowBatchesOf } from '../stages/load/row-batches';
import { DistinctKeys } from '../stages/shared/distinct-keys';
import { CopyValueError, writeBinaryCopy } from './warehouse-copy';
import { type WarehouseSchemaNames, defaultWarehouseSchemaNames, qualified, sqlType, versionTableName } from './warehouse-ddl';
import { isTransientPgError, pgErrorCode } from './warehouse-pg-errors';

/**
 * The Warehouse port over PostgreSQL. Every object is one transaction on one pooled connection,
 * ending with its load log entry. The general path COPYs the rows into a temporary staging table
 * (dropped at commit), then moves them into the star tables with set-based SQL whose every
 * statement is idempotent. A fact object whose versions are all new, and a dimension object whose
 * ids are all new, take a one-pass path first (COPY straight into the star table, inside a
 * savepoint) and fall back to the general path at the first sign it is not that case. A crash
 * anywhere leaves nothing behind, so a redelivery converges to the same warehouse.
 */

const STAGING = quoteIdent('totes_staging');
const UNIQUE_VIOLATION = '23505';
/**
 * The memory one sort of the load may take before it spills to disk, for this transaction only.
 * An object holds at most 50,000 rows by default, and the staged inserts sort them by key: with
 * PostgreSQL's default of 4 MB both sorts of a dim_transaction object spilled to temporary files
 * (external merge, 1.4 and 2.0 MB on disk), and the insert of 400,000 new ids took 1.27-1.34 s
 * against 1.17-1.20 s in memory. A sort uses only what it needs, so this is a cap, not a grant.
 */
const LOAD_WORK_MEM = '32MB';
/** Why a one-pass fact COPY gave way to the staged path. */
const KNOWN_VERSIONS = 'known versions';
const MISSING_REFERENCES = 'missing references';

/** Staging uses byte order for versions: version strings compare like JavaScript strings, whatever the database collation. */
function stagingColumnType(column: ColumnDef): string {
  return column.name === SOURCE_VERSION_COLUMN ? `${sqlType(column)} COLLATE "C"` : sqlType(column);
}

function columnList(columns: readonly ColumnDef[]): string {
  return columns.map((column) => quoteIdent(column.name)).join(', ');
}

/** Refuses rows whose columns are not `columns`, in that order: `target` names where they were going. */
function expectColumns(target: string, rows: RowBatches, columns: readonly ColumnDef[]): void {
  if (columnList(rows.columns) !== columnList(columns)) {
    throw new Error(`rows for ${target} have columns ${columnList(rows.columns)}, expected ${columnList(columns)}`);
  }
}

/** What unlessUniqueViolation returns when its work met a unique violation and was rolled back. */
const UNIQUE_CONFLICT = Symbol('unique conflict');

/**
 * Runs `work` inside the savepoint `savepoint`: kept when it succeeds, rolled back (and
 * UNIQUE_CONFLICT returned) when it meets a unique violation, so the caller can take its merge
 * path in the same transaction. Any other error is thrown as it is.
 */
async function unlessUniqueViolation<T>(client: pg.PoolClient, savepoint: string, work: () => Promise<T>): Promise<T | typeof UNIQUE_CONFLICT> {
  await client.query(`SAVEPOINT ${savepoint}`);
  try {
    const result = await work();
    await client.query(`RELEASE SAVEPOINT ${savepoint}`);
    return result;
  } catch (error) {
    if (pgErrorCode(error) !== UNIQUE_VIOLATION) throw error;
  }
  await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
  return UNIQUE_CONFLICT;
}

/** The distinct keys of one dimension that a fact object refers to. */
interface DimensionKeys {
  readonly dimension: string;
  readonly column: string;
  readonly sqlType: string;
  readonly values: readonly CellValue[];
}

/** The foreign-key columns of a fact, grouped by the dimension they refer to. */
interface ReferencedDimension {
  readonly dimension: string;
  /** The dimension's key column. */
  readonly column: string;
  readonly sqlType: string;
  /** The fact columns that refer to it, with their positions in the columns given. */
  readonly factColumns: ReadonlyArray<{ readonly name: string; readonly index: number }>;
}

function referencedDimensions(columns: readonly ColumnDef[]): ReferencedDimension[] {
  const byDimension = new Map<string, { dimension: string; column: string; sqlType: string; factColumns: Array<{ name: string; index: number }> }>();
  columns.forEach((column, index) => {
    if (!column.references) return;
    const { table, column: key } = column.references;
    const target = byDimension.get(table) ?? { dimension: table, column: key, sqlType: sqlType(column), factColumns: [] };
    target.factColumns.push({ name: column.name, index });
    byDimension.set(table, target);
  });
  return [...byDimension.values()];
}

/** Gathers, as a fact object's batches pass on their way into COPY, the distinct keys each referenced dimension must hold. */
class ReferencedKeys {
  private readonly targets: Array<ReferencedDimension & { readonly keys: DistinctKeys }>;

  constructor(columns: readonly ColumnDef[]) {
    this.targets = referencedDimensions(columns).map((target) => ({ ...target, keys: new DistinctKeys() }));
  }

  gather(rows: RowBatches): AsyncIterable<RowBatch> {
    const targets = this.targets;
    return (async function* () {
      for await (const batch of rows) {
        for (const { factColumns, keys } of targets) {
          for (const { index } of factColumns) addColumnKeys(keys, batch, index);
        }
        yield batch;
      }
    })();
  }

  byDimension(): DimensionKeys[] {
    return this.targets.map(({ dimension, column, sqlType: type, keys }) => ({ dimension, column, sqlType: type, values: keys.values() }));
  }
}

/**
 * A key list as the parameter of `$1::<type>[]`. Integer keys (every id) go as PostgreSQL's array
 * literal, joined here: given the array, pg quotes and escapes each element with two regular
 * expressions, about 1.5% of the load's CPU for the 1.3 million dim_transaction keys of a 1M load.
 * Any other key goes as pg converts an array.
 */
export function keyArrayParameter(values: readonly CellValue[]): string | readonly CellValue[] {
  // A safe integer prints as plain digits, never with an exponent.
  for (const value of values) if (!Number.isSafeInteger(value)) return values;
  return `{${values.join(',')}}`;
}

type Transaction<T> = (client: pg.PoolClient) => Promise<{ result: T; commit: boolean }>;

/**
 * How a fact load enforces its foreign keys.
 * - `set-based` (the default, when the role may): lock the referenced dimension rows once per
 *   distinct key and count them (an anti-join runs only to name what is missing), then insert
 *   with PostgreSQL's per-row foreign-key triggers off for that statement (`SET LOCAL
 *   session_replication_role = replica`, which needs superuser or, from PostgreSQL 15, `GRANT SET
 *   ON PARAMETER`). The per-row triggers did the same check and lock once per row and foreign
 *   key: 9 per sales order, about two thirds of the load's time. Every other writer still gets
 *   the database's own checks.
 * - `per-row`: PostgreSQL's triggers check every row, as for any writer. Used when the role may
 *   not set the parameter.
 */
export type ReferenceCheck = 'set-based' | 'per-row';

export interface PgWarehouseOptions {
  /** `per-row` forces the database's own per-row checks; by default set-based when permitted. */
  readonly referenceCheck?: ReferenceCheck;
}

/** Whether this connection's role may turn off row triggers for its own transaction. */
async function mayDisableRowTriggers(client: pg.PoolClient): Promise<boolean> {
  const role = await client.query<{ superuser: string; version: number }>(
    `SELECT current_setting('is_superuser') AS superuser, current_setting('server_version_num')::int AS version`,
  );
  const { superuser, version } = role.rows[0] ?? { superuser: 'off', version: 0 };
  if (superuser === 'on') return true;
  if (version < 150_000) return false;
  const granted = await client.query<{ allowed: boolean }>(`SELECT has_parameter_privilege('session_replication_role', 'SET') AS allowed`);
  return granted.rows[0]?.allowed === true;
}

/**
 * The pool's connections as slots taken in arrival order, with no deadline. A handler applies a
 * whole SQS batch at once (up to 10 objects) over a pool of 2: without this, the objects queued
 * behind two long loads hit the pool's connection timeout and fail as "cannot connect", although
 * the warehouse is fine. Waiting here leaves that timeout to its real job: an unreachable server.
 */
class ConnectionSlots {
  private readonly waiting: Array<() => void> = [];

  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

export class PgWarehouse implements Warehouse {
  private readonly names: WarehouseSchemaNames;
  private readonly slots: ConnectionSlots;
  private readonly forcePerRow: boolean;
  /** Asked once per warehouse (the role does not change), on the first fact load. */
  private setBasedAllowed: Promise<boolean> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    names: Partial<WarehouseSchemaNames> = {},
    options: PgWarehouseOptions = {},
  ) {
    this.names = { ...defaultWarehouseSchemaNames, ...names };
    this.slots = new ConnectionSlots((pool as { options?: { max?: number } }).options?.max ?? 10);
    this.forcePerRow = options.referenceCheck === 'per-row';
  }

  /** The reference check fact loads use: set-based unless forced off or not permitted. */
  async referenceCheck(client: pg.PoolClient): Promise<ReferenceCheck> {
    if (this.forcePerRow) return 'per-row';
    this.setBasedAllowed ??= mayDisableRowTriggers(client).catch((error: unknown) => {
      this.setBasedAllowed = undefined;
      throw error;
    });
    return (await this.setBasedAllowed) ? 'set-based' : 'per-row';
  }

  async applyFacts(table: FactDef, rows: RowBatches, meta: FactApplyMeta): Promise<FactApplyOutcome> {
    return this.transaction<FactApplyOutcome>({ stage: 'load', table: table.name, key: meta.key }, async (client) => {
      const check = await this.referenceCheck(client);
      // A redelivered object most likely failed for a missing dimension row or rows already in,
      // and either would only roll the one-pass COPY back again.
      let knownVersions = false;
      if (check === 'set-based' && meta.redelivered !== true) {
        const copied = await this.copyNewFacts(client, table, rows, meta);
        if (typeof copied === 'number') {
          await this.logLoad(client, meta.key, table.name, rows.rowCount, copied);
          return { result: { status: 'applied', rowsApplied: copied }, commit: true };
        }
        knownVersions = copied === KNOWN_VERSIONS;
      }
      const columns = fileColumns(table);
      await this.stage(client, STAGING, columns, rows);
      // Dates once the facts are read (only then are they all known), before anything checks
      // the references: every fact refers to dim_date, and the dates cost nothing to insert twice.
      await this.insertDates(client, rowBatchesOf(fileColumns(dimDate), meta.dates()));
      const missing = check === 'set-based' ? await this.lockAllReferences(client, table) : await this.missingReferences(client, table);
      if (missing.length > 0) return { result: { status: 'waiting', missing }, commit: false };
      const names = columnList(columns);
      // Every reference was just checked and locked, so the per-row triggers would only repeat it.
      if (check === 'set-based') await client.query('SET LOCAL session_replication_role = replica');
      // Sorted so surrogate ids follow source order; ON CONFLICT absorbs versions already loaded,
      // including duplicates inside this file.
      const versionKey = table.versionKey.map(quoteIdent).join(', ');
      const insert = `INSERT INTO ${this.star(table.name)} (${names}) SELECT ${names} FROM ${STAGING} ORDER BY ${versionKey}`;
      const merge = `${insert} ON CONFLICT (${versionKey}) DO NOTHING`;
      // The one-pass COPY already met a version that is in: a plain insert would only meet it again.
      const rowsApplied = knownVersions ? ((await client.query(merge)).rowCount ?? 0) : await this.insertNewElseMerge(client, insert, merge);
      if (check === 'set-based') await client.query('SET LOCAL session_replication_role = origin');
      await this.logLoad(client, meta.key, table.name, rows.rowCount, rowsApplied);
      return { result: { status: 'applied', rowsApplied }, commit: true };
    });
  }

  async applyDimension(table: DimensionDef, rows: RowBatches, meta: ApplyMeta): Promise<{ rowsApplied: number }> {
    if (table.name === dimDate.name) return this.applyDates(rows, meta);
    return this.transaction({ stage: 'load', table: table.name, key: meta.key }, async (client) => {
      const rowsApplied = (await this.copyNewDimensionRows(client, table, rows)) ?? (await this.mergeDimension(client, table, rows));
      await this.logLoad(client, meta.key, table.name, rows.rowCount, rowsApplied);
      return { result: { rowsApplied }, commit: true };
    });
  }

  /**
   * The common case of a dimension object in one pass: every id in it is new (all of an initial
   * load, and every new id later). Its rows are COPYed straight into the dimension, then the ids
   * with their source versions (a second read of those two columns) into its version table: no staging
   * table, no sort, no INSERT … SELECT. Measured on 12 objects of 50,000 dim_transaction rows,
   * the two COPYs took 1.15-1.31 s against 1.97-2.12 s for staging and inserting.
   *
   * An id the warehouse has (or one repeated in the file) is a unique violation: the savepoint
   * is rolled back and null returned, for the caller to merge. A concurrent load of the same new
   * id waits for that load's commit, then meets its row the same way.
   */
  private async copyNewDimensionRows(client: pg.PoolClient, table: DimensionDef, rows: RowBatches): Promise<number | null> {
    const starColumns = fileColumns(table);
    const keyColumn = singleKeyColumn(table);
    const copied = await unlessUniqueViolation(client, 'totes_copy_dimension', async () => {
      const copy = client.query(copyFrom(`COPY ${this.star(table.name)} (${columnList(starColumns)}) FROM STDIN (FORMAT binary)`));
      await writeBinaryCopy(copy, starColumns, rows.select(starColumns.map((column) => column.name)));
      // The keys and versions are read again rather than held through the COPY above: held, they
      // were ~2.5 MB of strings per 50,000 ids that outlived two young collections and went to the
      // old generation, a quarter of what a load process promoted (README, Performance).
      const versionColumns = [keyColumn, text(SOURCE_VERSION_COLUMN)];
      const versions = client.query(copyFrom(`COPY ${this.bookkeeping(versionTableName(table))} ("natural_id", "version") FROM STDIN (FORMAT binary)`));
      await writeBinaryCopy(versions, versionColumns, rows.select([keyColumn.name, SOURCE_VERSION_COLUMN]));
      return copy.rowCount;
    });
    return copied === UNIQUE_CONFLICT ? null : copied;
  }

  /**
   * A dimension object that holds ids the warehouse has: staged, then merged. The version row is
   * the arbiter: its ON CONFLICT takes a row lock, so concurrent loads of the same id serialise,
   * and only ids whose version moved forward reach the dimension. Within one file the newest
   * version of an id wins (DISTINCT ON). Versions compare in byte order (COLLATE "C"), as the
   * transform compares them, whatever the database's locale.
   */
  private async mergeDimension(client: pg.PoolClient, table: DimensionDef, rows: RowBatches): Promise<number> {
    await this.stage(client, STAGING, parquetColumnsFor(table), rows);
    const key = quoteIdent(singleKeyColumn(table).name);
    const version = quoteIdent(SOURCE_VERSION_COLUMN);
    const starColumns = fileColumns(table);
    const names = columnList(starColumns);
    const updates = starColumns
      .filter((column) => !table.primaryKey.includes(column.name))
      .map((column) => `${quoteIdent(column.name)} = EXCLUDED.${quoteIdent(column.name)}`)
      .join(', ');
    const merged = await client.query(
      `WITH newest AS (
         SELECT DISTINCT ON (${key}) * FROM ${STAGING} ORDER BY ${key}, ${version} DESC
       ), accepted AS (
         INSERT INTO ${this.bookkeeping(versionTableName(table))} AS applied ("natural_id", "version")
         SELECT ${key}, ${version} FROM newest ORDER BY ${key}
         ON CONFLICT ("natural_id") DO UPDATE SET "version" = EXCLUDED."version", "updated_at" = now()
           WHERE applied."version" COLLATE "C" < EXCLUDED."version" COLLATE "C"
         RETURNING "natural_id"
       )
       INSERT INTO ${this.star(table.name)} (${names})
       SELECT ${starColumns.map((column) => `newest.${quoteIdent(column.name)}`).join(', ')}
         FROM newest JOIN accepted ON accepted."natural_id" = newest.${key}
        ORDER BY newest.${key}
       ON CONFLICT (${key}) DO UPDATE SET ${updates}`,
    );
    return merged.rowCount ?? 0;
  }

  async applyDates(rows: RowBatches, meta: ApplyMeta): Promise<{ rowsApplied: number }> {
    return this.transaction({ stage: 'load', table: dimDate.name, key: meta.key }, async (client) => {
      const rowsApplied = await this.insertDates(client, rows);
      await this.logLoad(client, meta.key, dimDate.name, rows.rowCount, rowsApplied);
      return { result: { rowsApplied }, commit: true };
    });
  }

  /**
   * The common case of a fact object in one pass: every version in it is new and every dimension
   * row it refers to is there. The rows are COPYed straight into the fact table (no staging
   * table, no INSERT … SELECT) with the per-row foreign-key triggers off, the keys they refer to
   * gathered on the way; then the dates go in, and the referenced dimension rows are locked
   * `FOR KEY SHARE` and counted, as the staged path does. Locked before commit, none of them can
   * be deleted or re-keyed before the facts are visible; one deleted before the lock is missing
   * from the count.
   *
   * Anything else (a version already loaded or repeated in the file, which the version key
   * refuses; a referenced row not there) rolls back to the savepoint, which also undoes the
   * trigger setting, and says which of the two it was: the caller reads the object again and
   * takes the staged path, which absorbs repeats and names what is missing. An invalid value fails the
   * load, as on the staged path.
   */
  private async copyNewFacts(client: pg.PoolClient, table: FactDef, rows: RowBatches, meta: FactApplyMeta): Promise<number | typeof KNOWN_VERSIONS | typeof MISSING_REFERENCES> {
    const columns = fileColumns(table);
    const references = new ReferencedKeys(columns);
    await client.query('SAVEPOINT totes_copy_facts');
    await client.query('SET LOCAL session_replication_role = replica');
    try {
      const copy = client.query(copyFrom(`COPY ${this.star(table.name)} (${columnList(columns)}) FROM STDIN (FORMAT binary)`));
      await writeBinaryCopy(copy, columns, references.gather(rows));
      await this.insertDates(client, rowBatchesOf(fileColumns(dimDate), meta.dates()));
      if (await this.lockKeys(client, references.byDimension())) {
        await client.query('SET LOCAL session_replication_role = origin');
        await client.query('RELEASE SAVEPOINT totes_copy_facts');
        return copy.rowCount;
      }
      await client.query('ROLLBACK TO SAVEPOINT totes_copy_facts');
      return MISSING_REFERENCES;
    } catch (error) {
      if (pgErrorCode(error) !== UNIQUE_VIOLATION) throw error;
    }
    await client.query('ROLLBACK TO SAVEPOINT totes_copy_facts');
    return KNOWN_VERSIONS;
  }

  /**
   * Locks the given keys of each dimension `FOR KEY SHARE`, in key order; true when every one of
   * them was there. The keys reach the planner through a sub-select, so it plans for a few keys
   * and probes the primary key once per key. Given the array itself, it estimates a 50,000-key
   * object's share of the dimension and scans the whole dimension instead: 130–140 ms against
   * 61–62 ms per 50,000 keys once dim_transaction holds 1.3 million rows, and growing with it.
   */
  private async lockKeys(client: pg.PoolClient, keys: readonly DimensionKeys[]): Promise<boolean> {
    for (const { dimension, column, sqlType: type, values } of keys) {
      const key = quoteIdent(column);
      const counted = await client.query<{ locked: number }>(
        `SELECT count(*)::int AS locked FROM (
           SELECT 1 FROM ${this.star(dimension)} d WHERE d.${key} = ANY((SELECT $1::${type}[])::${type}[]) ORDER BY d.${key} FOR KEY SHARE OF d
         ) AS locked`,
        [keyArrayParameter(values)],
      );
      if ((counted.rows[0]?.locked ?? 0) !== values.length) return false;
    }
    return true;
  }

  /**
   * Runs `insertNew`, an insert without ON CONFLICT, in a savepoint, and only if it meets a unique
   * violation rolls it back and runs `merge`, the statement that handles conflicts (the staged
   * fact path). Most objects hold only rows the warehouse has never seen (all of an initial load,
   * every new fact version), and for those a plain insert does the same work as the merge for
   * less: measured on 300,000 rows, a fact insert took 22% less time. A
   * redelivery, an update of a known id, a duplicate inside the file or a concurrent load of the
   * same ids trips the violation when the insert reaches the first such row, and takes the merge;
   * the savepoint keeps the rows inserted before it from counting twice.
   */
  private async insertNewElseMerge(client: pg.PoolClient, insertNew: string, merge: string): Promise<number> {
    const inserted = await unlessUniqueViolation(client, 'totes_insert_new', async () => (await client.query(insertNew)).rowCount ?? 0);
    if (inserted !== UNIQUE_CONFLICT) return inserted;
    const merged = await client.query(merge);
    return merged.rowCount ?? 0;
  }

  private star(table: string): string {
    return qualified(this.names.schema, table);
  }

  private bookkeeping(table: string): string {
    return qualified(this.names.bookkeepingSchema, table);
  }

  /**
   * Inserts the dim_date rows that are missing, in one statement with one array parameter per
   * column. A fact object refers to a few hundred dates at most, and a dim_date object holds no
   * more: a staging table for them (created, COPYed into and dropped with each object's catalog
   * entries) cost more than the insert itself.
   */
  private async insertDates(client: pg.PoolClient, rows: RowBatches): Promise<number> {
    if (rows.rowCount === 0) return 0;
    const columns = fileColumns(dimDate);
    expectColumns(dimDate.name, rows, columns);
    const arrays = columns.map((): CellValue[] => []);
    for await (const batch of rows) {
      columns.forEach((_column, index) => {
        const values = batch.values[index]!;
        for (let row = 0; row < batch.rowCount; row += 1) arrays[index]!.push(values[row] ?? null);
      });
    }
    const names = columnList(columns);
    const unnested = columns.map((column, index) => `$${index + 1}::${sqlType(column)}[]`).join(', ');
    const inserted = await client.query(
      `INSERT INTO ${this.star(dimDate.name)} (${names}) SELECT * FROM unnest(${unnested}) ORDER BY 1
       ON CONFLICT ("date_id") DO NOTHING`,
      arrays,
    );
    return inserted.rowCount ?? 0;
  }

  /**
   * Creates a staging table shaped like the file (types without constraints) and COPYs the rows
   * in, batch by batch as they are read, so only a block or two of the COPY input is held at a time.
   */
  private async stage(client: pg.PoolClient, staging: string, columns: readonly ColumnDef[], rows: RowBatches): Promise<void> {
    expectColumns(staging, rows, columns);
    const definitions = columns.map((column) => `${quoteIdent(column.name)} ${stagingColumnType(column)}`).join(', ');
    await client.query(`CREATE TEMP TABLE ${staging} (${definitions}) ON COMMIT DROP`);
    const copy = client.query(copyFrom(`COPY ${staging} (${columnList(columns)}) FROM STDIN (FORMAT binary)`));
    // A reader's error sends CopyFail and is thrown; the transaction then rolls back the batches already sent.
    await writeBinaryCopy(copy, columns, rows);
  }

  /**
   * Takes a `FOR KEY SHARE` lock (what a foreign-key check takes) on every dimension row the
   * staged facts refer to, once per distinct key, in key order, and returns what is missing (an
   * empty list once every referenced row is locked). From then until commit no row this file
   * refers to can be deleted or have its key changed, exactly as the per-row triggers ensure.
   * Locking first and counting what was locked is the check itself: the detailed anti-join runs
   * only when something is missing, to name it.
   */
  private async lockAllReferences(client: pg.PoolClient, table: FactDef): Promise<MissingReference[]> {
    // A row inserted by another transaction between the count and the anti-join is not locked
    // yet: lock again, and it is. Two rounds suffice unless dimensions keep arriving meanwhile.
    for (let round = 1; round <= 3; round += 1) {
      if (await this.lockReferencedRows(client, table)) return [];
      const missing = await this.missingReferences(client, table);
      if (missing.length > 0) return missing;
    }
    throw new TotesError(`${table.name}: the dimension rows this object refers to kept changing while they were being locked`, {
      context: { stage: 'load', table: table.name },
      retryable: true,
    });
  }

  /** Locks the referenced rows of each dimension; true when every referenced key was there. */
  private async lockReferencedRows(client: pg.PoolClient, table: FactDef): Promise<boolean> {
    let complete = true;
    for (const { dimension, column, factColumns } of referencedDimensions(fileColumns(table))) {
      const key = quoteIdent(column);
      const keys = factColumns.map((factColumn) => `SELECT ${quoteIdent(factColumn.name)} AS id FROM ${STAGING}`).join(' UNION ALL ');
      const counted = await client.query<{ wanted: number; locked: number }>(
        `WITH wanted AS (SELECT DISTINCT id FROM (${keys}) AS referenced),
              locked AS (SELECT d.${key} FROM ${this.star(dimension)} d WHERE d.${key} IN (SELECT id FROM wanted) ORDER BY d.${key} FOR KEY SHARE OF d)
         SELECT (SELECT count(*) FROM wanted)::int AS wanted, (SELECT count(*) FROM locked)::int AS locked`,
      );
      const { wanted: wantedKeys, locked } = counted.rows[0] ?? { wanted: 0, locked: 0 };
      if (locked !== wantedKeys) complete = false;
    }
    return complete;
  }

  /** Anti-joins each distinct referenced key of staging against its dimension: which keys are not there yet. */
  private async missingReferences(client: pg.PoolClient, table: FactDef): Promise<MissingReference[]> {
    const references = table.columns.filter((column) => column.references !== undefined);
    const branches = references.map((column, index) => {
      const target = column.references!;
      const factColumn = quoteIdent(column.name);
      // Grouped first, so the dimension is probed once per distinct key rather than once per row.
      return `SELECT ${index} AS reference, s.id::text AS id, s.rows
                FROM (SELECT ${factColumn} AS id, count(*)::int AS rows FROM ${STAGING} GROUP BY ${factColumn}) s
               WHERE NOT EXISTS (SELECT 1 FROM ${this.star(target.table)} d WHERE d.${quoteIdent(target.column)} = s.id)`;
    });
    if (branches.length === 0) return [];
    const result = await client.query<{ reference: number; id: string; rows: number }>(`${branches.join('\nUNION ALL\n')}`);
    const byReference = new Map<number, { ids: Array<{ id: string }>; rows: number }>();
    for (const row of result.rows) {
      const entry = byReference.get(row.reference) ?? { ids: [], rows: 0 };
      entry.ids.push({ id: row.id });
      entry.rows += row.rows;
      byReference.set(row.reference, entry);
    }
    return [...byReference.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, entry]) => {
        const column = references[index]!;
        const ids = entry.ids.map((each) => each.id);
        const numeric = ids.every((id) => /^-?\d+$/.test(id));
        ids.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
        return { table: column.references!.table, column: column.references!.column, factColumn: column.name, ids, rows: entry.rows };
      });
  }

  private async logLoad(client: pg.PoolClient, key: string, table: string, rowsInFile: number, rowsApplied: number): Promise<void> {
    // A redelivery keeps the first load's counts and only notes that it came again.
    await client.query(
      `INSERT INTO ${this.bookkeeping('load_log')} AS log ("key", "table_name", "rows_in_file", "rows_applied")
       VALUES ($1, $2, $3, $4)
       ON CONFLICT ("key") DO UPDATE SET "last_delivered_at" = now(), "deliveries" = log."deliveries" + 1`,
      [key, table, rowsInFile, rowsApplied],
    );
  }

  private async transaction<T>(context: ErrorContext, work: Transaction<T>): Promise<T> {
    await this.slots.acquire();
    try {
      return await this.transactionOnSlot(context, work);
    } finally {
      this.slots.release();
    }
  }

  private async transactionOnSlot<T>(context: ErrorContext, work: Transaction<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (cause) {
      throw new TotesError(`cannot connect to the warehouse to load ${context.key}`, { context, retryable: true, cause });
    }
    // A connection dropped mid-transaction also surfaces as an 'error' event; without a
    // listener it would crash the process instead of failing this one object.
    let broken: Error | undefined;
    const onError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL work_mem = '${LOAD_WORK_MEM}'`);
      const { result, commit } = await work(client);
      await client.query(commit ? 'COMMIT' : 'ROLLBACK');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken ??= rollbackError;
      });
      throw translatePgError(error, context);
    } finally {
      client.off('error', onError);
      // A broken connection is destroyed rather than returned to the pool.
      client.release(broken);
    }
  }
}

/** pg errors become TotesErrors that say whether a retry can help and name the object. */
export function translatePgError(error: unknown, context: ErrorContext): TotesError {
  if (error instanceof TotesError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  const where = `${context.table ?? 'warehouse'} object ${context.key ?? '?'}`;
  // A value the binary COPY cannot carry for its column: the file is wrong, a retry repeats it.
  if (error instanceof CopyValueError) return new InvalidInputError(`${where}: ${detail}`, context, error);
  const code = pgErrorCode(error);
  // Dimensions are never deleted, so a foreign key violation means one arrived late after all.
  if (code === '23503') return new NotYetAvailableError(`${where}: waiting for a dimension row: ${detail}`, context, error);
  // Class 22 (data exception) and 23502 (NOT NULL): the file's values are wrong, a retry repeats it.
  if (code === '23502' || code?.startsWith('22')) return new InvalidInputError(`${where}: ${detail}`, context, error);
  return new TotesError(`${where}: cannot load into the warehouse: ${detail}`, { context, retryable: isTransientPgError(error), cause: error });
}

/** The warehouse port over a pg Pool; the schemas default to `public` and `totes`. */
export function createPgWarehouse(pool: pg.Pool, names: Partial<WarehouseSchemaNames> = {}, options: PgWarehouseOptions = {}): Warehouse {
  return new PgWarehouse(pool, names, options);
}
