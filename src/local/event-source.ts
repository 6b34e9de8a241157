import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { isEmpty, queueArn as readQueueArn, queueDepth, type QueueDepth } from '../aws/sqs-queue';
import { describeError, TotesError } from '../errors';
import type { Logger } from '../stages/ports';
import { lambdaContext } from './lambda-context';

/**
 * What Lambda's SQS event source mapping does, for running the handlers against moto: receive a
 * batch, invoke the handler with a real SQSEvent, delete what succeeded, and leave failures to
 * the queue — they come back when their visibility timeout expires, and the queue's redrive
 * policy moves a message to its DLQ after maxReceiveCount receives. Nothing here retries on its
 * own, so local runs exercise the same redelivery path as the deployed pipeline.
 */

/**
 * A handler as Lambda calls it. The result is read as an `SQSBatchResponse` when it is one; the
 * type stays open because a middy handler is typed by its inner function's result, which
 * sqs-partial-batch-failure replaces with the batch response.
 */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<unknown>;

export interface EventSource {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Read from the queue when omitted. */
  readonly queueArn?: string;
  readonly handler: SqsHandler;
  /** 1–10, one ReceiveMessage per batch. Default 10, as serverless.yml sets. */
  readonly batchSize?: number;
  /** Long-poll time of each receive. Default 1 s. */
  readonly waitSeconds?: number;
  /** For the Lambda context. Default: the queue's name with `-consumer`. */
  readonly functionName?: string;
  /** The function's timeout, which the context counts down from. Default 120 s. */
  readonly functionTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface BatchResult {
  readonly received: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Message ids left on the queue for redelivery. */
  readonly failedMessageIds: readonly string[];
  /** Succeeded messages whose delete was refused (e.g. the receipt expired): they will be redelivered. */
  readonly undeleted: number;
}

const MAX_BATCH = 10;

/** Receives one batch and settles it as Lambda would. Returns zero counts when the queue was empty. */
export async function pollBatch(source: EventSource): Promise<BatchResult> {
  const batchSize = source.batchSize ?? MAX_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
    throw new TotesError(`batch size must be 1–${MAX_BATCH}, got ${batchSize}`, { context: { stage: 'local' } });
  }
  const eventSourceArn = source.queueArn ?? (await readQueueArn(source.sqs, source.queueUrl));
  const messages = await receive(source, batchSize);
  if (messages.length === 0) return { received: 0, succeeded: 0, failed: 0, failedMessageIds: [], undeleted: 0 };

  const event: SQSEvent = { Records: messages.map((message) => sqsRecord(message, eventSourceArn)) };
  const failedIds = await invoke(source, event);
  const succeeded = event.Records.filter((record) => !failedIds.has(record.messageId));
  const undeleted = await deleteMessages(source, succeeded);
  return {
    received: messages.length,
    succeeded: succeeded.length,
    failed: failedIds.size,
    failedMessageIds: [...failedIds],
    undeleted,
  };
}

async function receive(source: EventSource, batchSize: number): Promise<Message[]> {
  try {
    const { Messages = [] } = await source.sqs.send(new ReceiveMessageCommand({
      QueueUrl: source.queueUrl,
      MaxNumberOfMessages: batchSize,
      WaitTimeSeconds: source.waitSeconds ?? 1,
      // Both spellings: AWS deprecated AttributeNames, emulators may only know it.
      AttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }));
    return Messages;
  } catch (cause) {
    throw new TotesError(`cannot receive from queue ${source.queueUrl}`, { context: { stage: 'local' }, retryable: true, cause });
  }
}

/** The record Lambda builds from a received message (camel-cased, attribute values as strings). */
export function sqsRecord(message: Message, eventSourceArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ...attributes,
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: messageAttributes(message.MessageAttributes ?? {}),
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: eventSourceArn,
    awsRegion: eventSourceArn.split(':')[3] ?? '',
  };
}

function messageAttributes(attributes: Record<string, MessageAttributeValue>): SQSMessageAttributes {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        dataType: value.DataType ?? 'String',
        stringListValues: value.StringListValues ?? [],
        binaryListValues: (value.BinaryListValues ?? []).map((bytes) => Buffer.from(bytes).toString('base64')),
        ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
        ...(value.BinaryValue === undefined ? {} : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      },
    ]),
  );
}

/**
 * Lambda's reading of the handler's answer: a throw fails the whole batch; no answer or an empty
 * `batchItemFailures` means every record succeeded; an identifier that is not in the batch makes
 * Lambda distrust the answer and fail the whole batch.
 */
async function invoke(source: EventSource, event: SQSEvent): Promise<Set<string>> {
  const all = new Set(event.Records.map((record) => record.messageId));
  const context = lambdaContext({
    functionName: source.functionName ?? `${source.queueUrl.split('/').pop() ?? 'queue'}-consumer`,
    timeoutMs: source.functionTimeoutMs ?? 120_000,
    region: event.Records[0]?.awsRegion,
  });
  let response: unknown;
  try {
    response = await source.handler(event, context);
  } catch (error) {
    source.logger?.error('handler failed: the whole batch returns to the queue', { queueUrl: source.queueUrl, error: describeError(error), records: all.size });
    return all;
  }
  const failures = batchItemFailures(response);
  const failedIds = new Set<string>();
  for (const failure of failures) {
    if (typeof failure?.itemIdentifier !== 'string' || !all.has(failure.itemIdentifier)) {
      source.logger?.error('handler reported an unknown batch item: the whole batch returns to the queue', { queueUrl: source.queueUrl, itemIdentifier: failure?.itemIdentifier });
      return all;
    }
    failedIds.add(failure.itemIdentifier);
  }
  return failedIds;
}

function batchItemFailures(response: unknown): SQSBatchResponse['batchItemFailures'] {
  if (typeof response !== 'object' || response === null || !('batchItemFailures' in response)) return [];
  const failures = (response as Partial<SQSBatchResponse>).batchItemFailures;
  return Array.isArray(failures) ? failures : [];
}

async function deleteMessages(source: EventSource, records: readonly SQSRecord[]): Promise<number> {
  let undeleted = 0;
  for (let start = 0; start < records.length; start += MAX_BATCH) {
    const chunk = records.slice(start, start + MAX_BATCH);
    try {
      const { Failed = [] } = await source.sqs.send(new DeleteMessageBatchCommand({
        QueueUrl: source.queueUrl,
        Entries: chunk.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
      }));
      undeleted += Failed.length;
      for (const failed of Failed) source.logger?.warn('delete refused: the message will be redelivered', { queueUrl: source.queueUrl, code: failed.Code, reason: failed.Message });
    } catch (error) {
      // A processed message that comes back is absorbed downstream (writes are idempotent).
      undeleted += chunk.length;
      source.logger?.warn('delete failed: the batch will be redelivered', { queueUrl: source.queueUrl, error: describeError(error) });
    }
  }
  return undeleted;
}

export interface DrainOptions {
  /** Give up (with an error naming what is left) after this long. */
  readonly timeoutMs: number;
  /** Batches processed at once per queue, as Lambda scales out. Default 1. */
  readonly concurrency?: number;
  /**
   * Whether nothing more can arrive from upstream. Empty queues end the drain only once this
   * says so, so a consumer can run alongside its producer, as a deployed function does.
   * Default: the producer is already done.
   */
  readonly upstreamDone?: () => boolean | Promise<boolean>;
}

export interface DrainResult {
  readonly batches: number;
  readonly received: number;
  readonly succeeded: number;
  readonly failed: number;
}

/** Polls one queue until it holds no visible, in-flight or delayed message. */
export async function drainQueue(source: EventSource, options: DrainOptions): Promise<DrainResult> {
  return drainQueues([source], options);
}

/**
 * Polls several queues at once until all of them are empty at the same moment. One queue's
 * handler may feed the next (transform → processed bucket → load queue), so a queue that is
 * empty now is only done once every queue upstream is empty too.
 */
export async function drainQueues(sources: readonly EventSource[], options: DrainOptions): Promise<DrainResult> {
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TotesError(`concurrency must be a positive integer, got ${concurrency}`, { context: { stage: 'local' } });
  const resolved = await Promise.all(sources.map(async (source) => ({ ...source, queueArn: source.queueArn ?? (await readQueueArn(source.sqs, source.queueUrl)) })));
  const deadline = Date.now() + options.timeoutMs;
  const totals = { batches: 0, received: 0, succeeded: 0, failed: 0 };
  let done = false;
  let timedOut = false;
  const upstreamDone = options.upstreamDone ?? (() => true);

  const allEmpty = async (): Promise<boolean> => {
    const depths = await Promise.all(resolved.map((source) => queueDepth(source.sqs, source.queueUrl)));
    return depths.every(isEmpty);
  };
  // The counts are approximate, and one answer can miss a message: moto reads the visible count
  // before the in-flight count, so a message whose visibility timeout ends between the two reads
  // is in neither (a retry waiting to be moved to its DLQ was lost to a tick that way). A second
  // answer, asked after the first returned, sees such a message as visible or in flight again.
  const allEmptyTwice = async (): Promise<boolean> => (await allEmpty()) && (await allEmpty());

  const worker = async (source: EventSource): Promise<void> => {
    while (!done) {
      if (Date.now() >= deadline) {
        timedOut = true;
        done = true;
        return;
      }
      const result = await pollBatch(source);
      if (result.received > 0) {
        totals.batches += 1;
        totals.received += result.received;
        totals.succeeded += result.succeeded;
        totals.failed += result.failed;
      } else if ((await upstreamDone()) && (await allEmptyTwice())) {
        // Asked in this order: once upstream is done nothing new can arrive, so queues empty
        // after that stay empty.
        done = true;
      }
    }
  };

  try {
    await Promise.all(resolved.flatMap((source) => Array.from({ length: concurrency }, () => worker(source))));
  } finally {
    done = true;
  }
  if (timedOut) {
    const left = await Promise.all(resolved.map(async (source) => describeDepth(source.queueUrl, await queueDepth(source.sqs, source.queueUrl))));
    throw new TotesError(`queues not drained within ${options.timeoutMs} ms: ${left.join('; ')}`, { context: { stage: 'local' }, retryable: true });
  }
  return totals;
}

function describeDepth(queueUrl: string, depth: QueueDepth): string {
  return `${queueUrl.split('/').pop()}: ${depth.visible} visible, ${depth.inFlight} in flight, ${depth.delayed} delayed`;
}
