import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TotesError } from '../errors';
import { normaliseSourceTimestamp } from '../schemas/keys';
import type { SourceTableName } from '../schemas/source';
import { LAST_RUN_ITEM, LastRunItem, WatermarkItem, formatRecentEntry, parseRecentEntry } from '../schemas/watermark';
import {
  WatermarkConflictError,
  type LastRun,
  type LeaseRequest,
  type WatermarkAdvance,
  type WatermarkState,
  type WatermarkStore,
} from '../stages/extract/ports';

// Every attribute goes through a placeholder: `table` is a DynamoDB reserved word.
const names = {
  '#table': 'table',
  '#watermark': 'watermark',
  '#recent': 'recent',
  '#leaseOwner': 'leaseOwner',
  '#leaseUntil': 'leaseUntil',
  '#updatedAt': 'updatedAt',
  '#lastRunId': 'lastRunId',
} as const;

function pickNames(expression: string): Record<string, string> {
  return Object.fromEntries(Object.entries(names).filter(([placeholder]) => expression.includes(placeholder)));
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** The extract watermarks in one DynamoDB table (hash key `table`, S); see src/schemas/watermark.ts. */
export class DynamoWatermarkStore implements WatermarkStore {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /**
   * One update of a table's item: every attribute named in the expressions goes through its
   * placeholder, and a condition (when given) makes the write fail with
   * ConditionalCheckFailedException instead of applying.
   */
  private updateItem(table: string, update: string, values: Record<string, unknown>, options: { condition?: string; returnNew?: boolean } = {}) {
    const { condition, returnNew } = options;
    return this.dynamo.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { table },
        UpdateExpression: update,
        ...(condition === undefined ? {} : { ConditionExpression: condition }),
        ExpressionAttributeNames: pickNames(update + (condition ?? '')),
        ExpressionAttributeValues: values,
        ...(returnNew ? { ReturnValues: 'ALL_NEW' as const } : {}),
      }),
    );
  }

  async acquireLease(table: SourceTableName, request: LeaseRequest): Promise<WatermarkState | null> {
    const update = 'SET #leaseOwner = :owner, #leaseUntil = :until';
    // An expired lease belongs to a run that died or overran: taking it over is safe because its
    // advance is conditional on still owning the lease.
    const condition = 'attribute_not_exists(#leaseOwner) OR #leaseUntil < :now';
    try {
      const result = await this.updateItem(
        table,
        update,
        { ':owner': request.owner, ':until': request.now.getTime() + request.leaseSeconds * 1000, ':now': request.now.getTime() },
        { condition, returnNew: true },
      );
      return this.toState(result.Attributes);
    } catch (error) {
      if (isConditionFailure(error)) return null;
      throw this.failure(`cannot take the extract lease of ${table}`, table, error);
    }
  }

  async advance(table: SourceTableName, advance: WatermarkAdvance): Promise<void> {
    if (advance.expected !== null && advance.watermark < advance.expected) {
      throw new WatermarkConflictError(`refusing to move the watermark of ${table} backwards from ${advance.expected} to ${advance.watermark}`, table);
    }
    const update = 'SET #watermark = :watermark, #recent = :recent, #updatedAt = :now, #lastRunId = :owner REMOVE #leaseOwner, #leaseUntil';
    const condition = `#leaseOwner = :owner AND ${advance.expected === null ? 'attribute_not_exists(#watermark)' : '#watermark = :expected'}`;
    try {
      await this.updateItem(
        table,
        update,
        {
          ':watermark': normaliseSourceTimestamp(advance.watermark),
          ':recent': advance.recent.map((version) => formatRecentEntry(version.id, version.lastUpdated)),
          ':now': advance.now.toISOString(),
          ':owner': advance.owner,
          ...(advance.expected === null ? {} : { ':expected': advance.expected }),
        },
        { condition },
      );
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new WatermarkConflictError(
          `watermark of ${table} changed or run ${advance.owner} lost its lease before the advance to ${advance.watermark}; the objects written will be read again by the next run`,
          table,
          error,
        );
      }
      throw this.failure(`cannot advance the watermark of ${table}`, table, error);
    }
  }

  async releaseLease(table: SourceTableName, owner: string): Promise<void> {
    const update = 'REMOVE #leaseOwner, #leaseUntil';
    const condition = '#leaseOwner = :owner';
    try {
      await this.updateItem(table, update, { ':owner': owner }, { condition });
    } catch (error) {
      if (isConditionFailure(error)) return;
      throw this.failure(`cannot release the extract lease of ${table}`, table, error);
    }
  }

  async list(): Promise<WatermarkState[]> {
    const states: WatermarkState[] = [];
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.dynamo.send(new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: startKey, ConsistentRead: true }));
        for (const item of page.Items ?? []) if (item.table !== LAST_RUN_ITEM) states.push(this.toState(item));
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    } catch (error) {
      if (error instanceof TotesError) throw error;
      throw this.failure(`cannot list watermarks`, undefined, error);
    }
    return states.sort((a, b) => a.table.localeCompare(b.table));
  }

  async reset(table: SourceTableName, to: string | null): Promise<void> {
    // Forgetting `recent` is safe either way: at worst a version is read again, which load absorbs.
    const update = to === null ? 'SET #updatedAt = :now REMOVE #watermark, #recent' : 'SET #watermark = :to, #updatedAt = :now REMOVE #recent';
    try {
      await this.updateItem(table, update, { ':now': new Date().toISOString(), ...(to === null ? {} : { ':to': normaliseSourceTimestamp(to) }) });
    } catch (error) {
      throw this.failure(`cannot reset the watermark of ${table}`, table, error);
    }
  }

  async recordLastRun(run: LastRun): Promise<void> {
    const item = LastRunItem.parse({ table: LAST_RUN_ITEM, ...run, tables: [...run.tables] });
    try {
      await this.dynamo.send(new PutCommand({ TableName: this.tableName, Item: item }));
    } catch (error) {
      throw this.failure('cannot record the last extract run', undefined, error);
    }
  }

  async lastRun(): Promise<LastRun | null> {
    let item: Record<string, unknown> | undefined;
    try {
      item = (await this.dynamo.send(new GetCommand({ TableName: this.tableName, Key: { table: LAST_RUN_ITEM }, ConsistentRead: true }))).Item;
    } catch (error) {
      throw this.failure('cannot read the last extract run', undefined, error);
    }
    if (!item) return null;
    const { table: _reserved, ...run } = LastRunItem.parse(item);
    return run;
  }

  private toState(attributes: Record<string, unknown> | undefined): WatermarkState {
    const parsed = WatermarkItem.safeParse(attributes);
    if (!parsed.success) {
      throw new TotesError(`watermark item in ${this.tableName} is malformed: ${parsed.error.issues.map((issue) => issue.path.join('.')).join(', ')}`, {
        context: { stage: 'extract', table: typeof attributes?.table === 'string' ? attributes.table : undefined },
      });
    }
    const item = parsed.data;
    return {
      table: item.table,
      watermark: item.watermark === undefined ? null : normaliseSourceTimestamp(item.watermark),
      recent: (item.recent ?? []).map(parseRecentEntry),
      leaseOwner: item.leaseOwner ?? null,
      leaseUntil: item.leaseUntil === undefined ? null : new Date(item.leaseUntil).toISOString(),
      updatedAt: item.updatedAt ?? null,
    };
  }

  private failure(message: string, table: string | undefined, cause: unknown): TotesError {
    return new TotesError(`${message} (DynamoDB table ${this.tableName})`, { context: { stage: 'extract', ...(table ? { table } : {}) }, retryable: true, cause });
  }
}
