import type { SQSRecord } from 'aws-lambda';
import type { AwsClients } from '../../aws/clients';
import type { AwsSettings } from '../../aws/config';
import { DynamoFailureJournal } from '../../aws/failure-journal';
import type { HandlerConfig } from '../../config';
import { TotesError, describeError } from '../../errors';
import { createJsonLogger } from '../../observability/logger';
import { unreadableMessageKey } from '../../schemas/failure';
import { objectsInNotification } from '../../schemas/messages';
import type { Logger } from '../../stages/ports';

/**
 * What a composition root is given. There is one root per function (`./extract`, `./transform`,
 * `./load`), so each Lambda bundle holds only the adapters and SDK clients its function calls;
 * `Clients` names those clients. Deployed handlers build a runtime once per cold start from the
 * environment serverless.yml sets; the local runtime passes the stack it provisioned, with every
 * client. Nothing here holds logic of its own.
 */
export interface Runtime<Clients extends Partial<AwsClients> = AwsClients> {
  readonly config: HandlerConfig;
  readonly clients: Clients;
  readonly aws: AwsSettings;
  readonly logger?: Logger;
}

export function loggerFor(runtime: Pick<Runtime, 'config' | 'logger'>, stage: string): Logger {
  return (runtime.logger ?? createJsonLogger({ level: runtime.config.LOG_LEVEL })).child({ stage });
}

export type RecordFailureHook = (record: SQSRecord, error: unknown) => Promise<void>;

/**
 * Writes each failed record's last error to the failure journal, because the message that ends
 * in a DLQ carries no reason and `totes dlq list` must say why. The consumer runtime calls it
 * after logging and swallows (and logs) its errors, so a journal outage never changes a
 * record's outcome nor hides its error.
 */
export function recordFailures(runtime: Runtime<Pick<AwsClients, 'dynamo'>>, stage: 'transform' | 'load'): RecordFailureHook {
  const tableName = runtime.config.FAILURES_TABLE;
  const journal = tableName ? new DynamoFailureJournal(runtime.clients.dynamo, tableName) : null;
  return async (record, error) => {
    if (!journal) return;
    const at = new Date().toISOString();
    // Keyed by the objects the message announces — what the DLQ listing reads back — not by the
    // error's key, which may name an output object (a Parquet file the transform could not write).
    for (const key of announcedKeys(record, error)) {
      await journal.record({
        key,
        stage,
        messageId: record.messageId,
        receiveCount: Number(record.attributes.ApproximateReceiveCount) || 0,
        error: describeError(error),
        retryable: error instanceof TotesError ? error.retryable : true,
        at,
      });
    }
  };
}

function announcedKeys(record: SQSRecord, error: unknown): string[] {
  try {
    const keys = objectsInNotification(record.body).map((object) => object.key);
    if (keys.length > 0) return keys;
  } catch {
    // An unreadable body: fall through to the error's key or the message id.
  }
  const contextKey = error instanceof TotesError ? error.context.key : undefined;
  return [contextKey ?? unreadableMessageKey(record.messageId)];
}

/** Runs every hook even when one fails (a journal outage must not cancel a back-off), then reports the first failure. */
export function allFailureHooks(...hooks: RecordFailureHook[]): RecordFailureHook {
  return async (record, error) => {
    const results = await Promise.allSettled(hooks.map((hook) => hook(record, error)));
    const rejected = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (rejected) throw rejected.reason;
  };
}
