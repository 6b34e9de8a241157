import { parseIngestionKey, buildProcessedKey, type IngestionObject } from '../../schemas/keys';
import { sourceIdColumn, sourceTable } from '../../schemas/source';
import type { WarehouseTableName } from '../../schemas/warehouse';
import type { Logger, ObjectStore } from '../ports';
import { createInFlightLimit } from '../shared/in-flight';
import { warehouseBuilderFor } from './build';
import { readSourceRecords } from './csv';
import type { SourceStateStore } from './state';

export type { SourceStateStore, StateTableName } from './state';

export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';

/**
 * Rows per Parquet row group, which also bounds how many fact values are held at once. 10,000
 * rather than a whole object: on 100,000 sales orders it cut the transform's CPU by a quarter and
 * its memory per object by a third (bench/micro-transform.ts), and the file got no larger.
 */
export const DEFAULT_ROW_GROUP_SIZE = 10_000;

/**
 * Objects this process transforms at once, whatever the batch size (see shared/in-flight.ts):
 * one. The transform is CPU-bound in one JavaScript thread, so a second object in flight only
 * overlapped its S3 reads and writes with the first one's parsing, and added its memory: over
 * three alternating bench runs at 1M, one at a time peaked at 130–131 MB against 137–140 MB for
 * two, and grew +2.7% to +6.3% from 100k against +7.0% to +13.0%, for a transform stage about 3%
 * longer (8.1–8.3 against 7.9–8.0 s) and the same CPU. Its SQS batch stays two.
 */
const TRANSFORM_OBJECTS_IN_FLIGHT = 1;
const objectsInFlight = createInFlightLimit(TRANSFORM_OBJECTS_IN_FLIGHT);

export interface TransformDeps {
  readonly ingestion: ObjectStore;
  readonly processed: ObjectStore;
  readonly state: SourceStateStore;
  readonly logger: Logger;
  readonly settings?: { readonly rowGroupSize?: number };
}

export interface TransformOutput {
  readonly table: WarehouseTableName;
  readonly key: string;
  readonly rows: number;
  /** False when the object already existed: an earlier attempt wrote it, so this one is done. */
  readonly created: boolean;
}

export interface TransformReport {
  readonly key: string;
  readonly status: 'transformed' | 'skipped';
  readonly outputs: TransformOutput[];
}

/**
 * Transforms one ingestion CSV object into the warehouse tables it feeds: one Parquet object per
 * table with at least one row, at `buildProcessedKey({ warehouseTable, source })`.
 *
 * Order matters for "never lose, never duplicate":
 * 1. The whole CSV is parsed and validated (streamed; facts are encoded chunk by chunk). A bad
 *    row throws {@link InvalidInputError} before anything is written, so a failed object leaves
 *    no partial output and no state.
 * 2. Rows of joined tables go to the state store, then their partners are read (see state.ts).
 * 3. Every output is encoded before the first is written, then written create-only. The keys
 *    derive from the input key alone, so reprocessing the same input (a redelivery, a redrive)
 *    writes the same keys again: an existing key comes back `created: false`, meaning an earlier
 *    attempt already wrote it, and the load never sees a second copy. Dimensions are written
 *    before facts and dim_date first, so a load that picks them up in write order finds its
 *    references.
 *
 * Keys that are not ingestion objects (another prefix, a test event) are reported `skipped`.
 */
export async function transformObject(input: { key: string }, deps: TransformDeps): Promise<TransformReport> {
  const { key } = input;
  const source = parseIngestionKey(key);
  if (!source) {
    deps.logger.warn('transform skipped: not an ingestion object', { key });
    return { key, status: 'skipped', outputs: [] };
  }
  return objectsInFlight(() => transformSource(key, source, deps));
}

async function transformSource(key: string, source: IngestionObject, deps: TransformDeps): Promise<TransformReport> {
  const logger = deps.logger.child({ key, table: source.table });
  const table = sourceTable(source.table);
  const rowGroupSize = deps.settings?.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE;
  const builder = warehouseBuilderFor(source.table, sourceIdColumn(table), { key, rowGroupSize });

  const body = await deps.ingestion.getStream(key);
  const sourceRows = await readSourceRecords(body, table, key, builder.records);
  const tables = await builder.finish(deps.state);

  const outputs: TransformOutput[] = [];
  for (const output of tables) {
    const warehouseTable = output.table.name as WarehouseTableName;
    const processedKey = buildProcessedKey({ warehouseTable, source });
    const { created } = await deps.processed.putNew(processedKey, output.bytes, PARQUET_CONTENT_TYPE);
    outputs.push({ table: warehouseTable, key: processedKey, rows: output.rows, created });
  }
  logger.info('transformed', { sourceRows, outputs });
  return { key, status: 'transformed', outputs };
}
