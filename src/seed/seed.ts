import pg from 'pg';
import { quoteIdent } from '../schemas/columns';
import type { TableDef } from '../schemas/columns';
import type { Row } from '../schemas/rows';
import {
  address, counterparty, currency, department, design, salesOrder, sourceIdColumn, sourceTables, staff,
  type SourceTableName,
} from '../schemas/source';
import type { Logger } from '../stages/ports';
import { silentLogger } from '../observability/logger';
import { InvalidInputError, TotesError } from '../errors';
import {
  createTotesysConstraintsSql, createTotesysTablesSql, dropTotesysTablesSql, prismaMigrationsColumns, prismaMigrationsTableName,
  resetIdentitySql, totesysTableNames,
} from '../db/totesys-ddl';
import { copyRows } from './copy';
import {
  type GenerationPlan, paymentRows, paymentTypeRows, prismaMigrationRows, purchaseOrderRows, salesOrderRows, transactionRows,
} from './generate';
import { defaultSnapshotDir, readSnapshotTable } from './snapshot';

export interface SeedOptions {
  /** Connection string of the totesys database (TOTESYS_DB_URL). */
  readonly url: string;
  /**
   * Total sales orders. At or above the 8,307 real ones, all real orders are kept and
   * `scale - 8,307` are generated after them (ids continue at 8,308); below, the first `scale`
   * real orders by id are kept. Default: the real 8,307.
   */
  readonly scale?: number;
  /** Seed of the generator: the same seed and scale give byte-identical tables. Default 1. */
  readonly seed?: number;
  readonly logger?: Logger;
  /** Drop the totesys tables first if they exist. Without it, existing tables are an error. */
  readonly reset?: boolean;
  /** Folder of the real rows; default data/totesys-snapshot-2024-05. */
  readonly snapshotDir?: string;
}

export type SeedTableName = SourceTableName | typeof prismaMigrationsTableName;

/** Rows loaded per table. */
export type SeedReport = Record<SeedTableName, number>;

export const defaultSeed = 1;
const maxScale = 100_000_000;
const progressEvery = 250_000;

function validateOptions(options: SeedOptions): void {
  const context = { stage: 'seed' as const };
  if (options.scale !== undefined && (!Number.isSafeInteger(options.scale) || options.scale < 0 || options.scale > maxScale)) {
    throw new InvalidInputError(`scale must be a whole number of sales orders from 0 to ${maxScale}, got ${options.scale}`, context);
  }
  if (options.seed !== undefined && (!Number.isSafeInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff)) {
    throw new InvalidInputError(`seed must be a whole number from 0 to 4294967295, got ${options.seed}`, context);
  }
}

function idsOf(table: TableDef, rows: readonly Row[]): number[] {
  const id = sourceIdColumn(table);
  return rows.map((row) => row[id] as number);
}

/** Counts rows as COPY pulls them and reports progress, without holding any of them. */
function* withProgress(rows: Iterable<Row>, report: (rows: number) => void): Generator<Row> {
  let count = 0;
  for (const row of rows) {
    yield row;
    count += 1;
    if (count % progressEvery === 0) report(count);
  }
}

/**
 * Creates the totesys schema (the 11 source tables and `_prisma_migrations`) in the database at
 * `options.url` and fills it: the real May 2024 rows, plus deterministic generated payment types,
 * purchase orders (⌊sales orders / 3⌋), one transaction per order and one payment per
 * transaction. Everything happens in one transaction, so a failed seed leaves the database as it
 * was. Only the totesys tables in the current schema are created or dropped.
 */
export async function seedTotesys(options: SeedOptions): Promise<SeedReport> {
  validateOptions(options);
  const logger = (options.logger ?? silentLogger).child({ stage: 'seed' });
  const seed = options.seed ?? defaultSeed;
  const snapshotDir = options.snapshotDir ?? defaultSnapshotDir;

  // Read and validate every real row before touching the database: bad input changes nothing.
  const [addresses, counterparties, currencies, departments, designs, staffRows, realSalesOrders] = await Promise.all(
    [address, counterparty, currency, department, design, staff, salesOrder].map((table) => readSnapshotTable(table, snapshotDir)),
  ) as [Row[], Row[], Row[], Row[], Row[], Row[], Row[]];
  const salesOrderCount = options.scale ?? realSalesOrders.length;
  const plan: GenerationPlan = {
    seed,
    salesOrders: salesOrderCount,
    purchaseOrders: Math.floor(salesOrderCount / 3),
    realSalesOrders,
    references: {
      design: idsOf(design, designs),
      staff: idsOf(staff, staffRows),
      counterparty: idsOf(counterparty, counterparties),
      currency: idsOf(currency, currencies),
      address: idsOf(address, addresses),
    },
  };
  const contents: Record<SourceTableName, () => Iterable<Row>> = {
    address: () => addresses,
    counterparty: () => counterparties,
    currency: () => currencies,
    department: () => departments,
    design: () => designs,
    staff: () => staffRows,
    sales_order: () => salesOrderRows(plan),
    purchase_order: () => purchaseOrderRows(plan),
    payment_type: () => paymentTypeRows(),
    transaction: () => transactionRows(plan),
    payment: () => paymentRows(plan),
  };

  const client = new pg.Client({ connectionString: options.url });
  try {
    await client.connect();
  } catch (cause) {
    throw new TotesError('cannot connect to the totesys database (check TOTESYS_DB_URL)', { context: { stage: 'seed' }, retryable: true, cause });
  }
  const started = performance.now();
  try {
    await client.query('BEGIN');
    // Room for the post-load index builds and foreign-key checks to sort in memory (this transaction only).
    await client.query(`SET LOCAL maintenance_work_mem = '256MB'`);
    const existing = await client.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ANY($1) ORDER BY table_name`,
      [totesysTableNames],
    );
    if (existing.rows.length > 0) {
      const names = existing.rows.map((row) => row.table_name).join(', ');
      if (!options.reset) {
        throw new TotesError(`the totesys tables already exist (${names}); seed again with reset to drop and recreate them`, { context: { stage: 'seed' } });
      }
      logger.info('dropping existing totesys tables', { tables: existing.rows.length });
      await client.query(dropTotesysTablesSql());
    }
    for (const statement of createTotesysTablesSql()) await client.query(statement);

    const report = {} as SeedReport;
    for (const table of sourceTables) {
      const tableStarted = performance.now();
      const progress = (rows: number) => logger.info('seeding', { table: table.name, rows, rowsPerSecond: Math.round(rows / ((performance.now() - tableStarted) / 1000)) });
      const content = contents[table.name];
      if (!content) throw new Error(`no content for totesys table ${table.name}`);
      const rows = await copyRows(client, table.name, table.columns.map((column) => column.name), withProgress(content(), progress));
      const seconds = (performance.now() - tableStarted) / 1000;
      report[table.name] = rows;
      logger.info('seeded table', { table: table.name, rows, seconds: Number(seconds.toFixed(3)), rowsPerSecond: Math.round(rows / Math.max(seconds, 0.001)) });
    }
    report[prismaMigrationsTableName] = await copyRows(
      client, prismaMigrationsTableName, prismaMigrationsColumns.map((column) => column.name), prismaMigrationRows(),
    );

    // Foreign keys and indexes after the load: one validating join per key instead of a check per row.
    const constraintsStarted = performance.now();
    for (const statement of createTotesysConstraintsSql()) await client.query(statement);
    for (const table of sourceTables) {
      await client.query(resetIdentitySql(table), [quoteIdent(table.name), sourceIdColumn(table)]);
      await client.query(`ANALYZE ${quoteIdent(table.name)}`);
    }
    logger.info('created foreign keys and indexes', { seconds: Number(((performance.now() - constraintsStarted) / 1000).toFixed(3)) });
    await client.query('COMMIT');
    logger.info('seeded totesys', { seed, salesOrders: report.sales_order, seconds: Number(((performance.now() - started) / 1000).toFixed(3)) });
    return report;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (error instanceof TotesError) throw error;
    // PostgreSQL names the COPY line and column in `where`; a person needs it to find the bad row.
    const where = (error as { where?: unknown }).where;
    const detail = typeof where === 'string' ? ` (${where})` : '';
    throw new TotesError(`seeding the totesys database failed: ${(error as Error).message}${detail}`, { context: { stage: 'seed' }, cause: error });
  } finally {
    await client.end().catch(() => undefined);
  }
}
