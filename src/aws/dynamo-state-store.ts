import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TotesError } from '../errors';
import type { Row } from '../schemas/rows';
import type { SourceStateStore, StateTableName } from '../stages/transform/state';

/** Conditional puts in flight at once: enough to hide latency, few enough not to throttle. */
const WRITE_CONCURRENCY = 10;

interface StateItem {
  readonly table: string;
  readonly id: number;
  readonly last_updated: string;
  readonly row: Row;
}

/**
 * The transform's join state in DynamoDB (see src/stages/transform/state.ts for why it exists):
 * hash key `table` (S), range key `id` (N), one item per source row holding its latest version.
 */
export class DynamoStateStore implements SourceStateStore {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  async putLatest(table: StateTableName, idColumn: string, rows: readonly Row[]): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const row = rows[next]!;
        next += 1;
        await this.putOne(table, idColumn, row);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, rows.length) }, worker));
  }

  async readAll(table: StateTableName): Promise<Row[]> {
    const rows: Row[] = [];
    let startKey: Record<string, unknown> | undefined;
    try {
      do {
        const page = await this.dynamo.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: '#table = :table',
            ExpressionAttributeNames: { '#table': 'table' },
            ExpressionAttributeValues: { ':table': table },
            // Strongly consistent: the read must see every write that completed before it.
            ConsistentRead: true,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of (page.Items ?? []) as StateItem[]) rows.push(item.row);
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    } catch (error) {
      throw new TotesError(`cannot read ${table} rows from state table ${this.tableName}`, {
        context: { stage: 'transform', table },
        retryable: true,
        cause: error,
      });
    }
    return rows;
  }

  private async putOne(table: StateTableName, idColumn: string, row: Row): Promise<void> {
    const id = row[idColumn];
    const lastUpdated = row.last_updated;
    if (typeof id !== 'number' || typeof lastUpdated !== 'string') {
      throw new TotesError(`${table} row has no ${idColumn} or last_updated to store`, { context: { stage: 'transform', table } });
    }
    const item: StateItem = { table, id, last_updated: lastUpdated, row };
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.tableName,
          Item: item,
          // The same version may be written again (redelivery, re-extraction); an older one never
          // replaces a newer one, whatever order the objects arrive in.
          ConditionExpression: 'attribute_not_exists(id) OR last_updated <= :version',
          ExpressionAttributeValues: { ':version': lastUpdated },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException') return;
      throw new TotesError(`cannot store ${table} ${id} in state table ${this.tableName}`, {
        context: { stage: 'transform', table },
        retryable: true,
        cause: error,
      });
    }
  }
}
