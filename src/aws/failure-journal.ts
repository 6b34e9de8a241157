import { BatchGetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TotesError } from '../errors';
import { FAILURE_TTL_SECONDS, FailureItem } from '../schemas/failure';

export type FailureRecord = Omit<FailureItem, 'expiresAt'>;

export interface FailureJournalOptions {
  /** How long an entry lives (default FAILURE_TTL_SECONDS, a day longer than a DLQ keeps a message). */
  readonly ttlSeconds?: number;
}

/**
 * The failure journal in DynamoDB (see src/schemas/failure.ts). Consumers write one item per
 * failed attempt, overwriting the object's previous one, so the item is always the last error;
 * the CLI reads them to say why a message is in a DLQ.
 */
export class DynamoFailureJournal {
  constructor(
    private readonly dynamo: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly options: FailureJournalOptions = {},
  ) {}

  async record(failure: FailureRecord): Promise<void> {
    const expiresAt = Math.floor(Date.parse(failure.at) / 1000) + (this.options.ttlSeconds ?? FAILURE_TTL_SECONDS);
    const item = FailureItem.parse({ ...failure, expiresAt });
    try {
      await this.dynamo.send(new PutCommand({ TableName: this.tableName, Item: item }));
    } catch (cause) {
      throw new TotesError(`cannot record the failure of ${failure.key} (DynamoDB table ${this.tableName})`, {
        context: { stage: failure.stage, key: failure.key },
        retryable: true,
        cause,
      });
    }
  }

  /** The last failure of each key that has one; keys without an entry are absent from the map. */
  async lastFailures(keys: readonly string[]): Promise<Map<string, FailureItem>> {
    const found = new Map<string, FailureItem>();
    const unique = [...new Set(keys)];
    try {
      // BatchGetItem takes at most 100 keys, and may return some unprocessed under throttling.
      for (let start = 0; start < unique.length; start += 100) {
        let request: Record<string, { Keys: Record<string, unknown>[]; ConsistentRead?: boolean }> | undefined = {
          [this.tableName]: { Keys: unique.slice(start, start + 100).map((key) => ({ key })), ConsistentRead: true },
        };
        for (let round = 0; request && Object.keys(request).length > 0 && round < 10; round += 1) {
          const response = await this.dynamo.send(new BatchGetCommand({ RequestItems: request }));
          for (const raw of response.Responses?.[this.tableName] ?? []) {
            const parsed = FailureItem.safeParse(raw);
            if (parsed.success) found.set(parsed.data.key, parsed.data);
          }
          request = response.UnprocessedKeys as typeof request;
        }
      }
    } catch (cause) {
      throw new TotesError(`cannot read the failure journal (DynamoDB table ${this.tableName})`, { context: { stage: 'cli' }, retryable: true, cause });
    }
    return found;
  }
}
