import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoFailureJournal } from '../aws/failure-journal';
import { TotesError, describeError } from '../errors';
import { unreadableMessageKey, type FailureItem } from '../schemas/failure';
import { objectsInNotification } from '../schemas/messages';
import type { OperatorQueue } from './stack';

type Sqs = Pick<SQSClient, 'send'>;

export interface PeekOptions {
  /** At most this many messages are looked at. */
  readonly limit?: number;
  /** How long each message is hidden while the peek runs; all are made visible again at the end. */
  readonly holdSeconds?: number;
}

export interface DeadLetter {
  readonly messageId: string;
  /** The object key the message announces, or `message/<id>` when its body names none. */
  readonly key: string;
  /** When the message was first sent (by S3), ISO 8601. */
  readonly sentAt: string | null;
  /** The last recorded failure of that key, from the failure journal. */
  readonly failure: FailureItem | null;
}

/**
 * Reads up to `limit` messages without consuming them: each is received with a short visibility
 * timeout (so the next receive returns others), then made visible again at once. If the peek is
 * interrupted, the hidden messages come back by themselves after `holdSeconds`.
 */
export async function peekMessages(sqs: Sqs, queueUrl: string, options: PeekOptions = {}): Promise<Message[]> {
  const limit = options.limit ?? 100;
  const holdSeconds = options.holdSeconds ?? 30;
  const seen = new Map<string, Message>();
  try {
    try {
      while (seen.size < limit) {
        const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, limit - seen.size),
          VisibilityTimeout: holdSeconds,
          // A long poll asks every SQS server, so an empty answer means the queue has no more.
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['SentTimestamp', 'ApproximateReceiveCount'],
        }));
        const fresh = Messages.filter((message) => message.MessageId && !seen.has(message.MessageId));
        if (fresh.length === 0) break;
        for (const message of fresh) seen.set(message.MessageId ?? '', message);
      }
    } finally {
      for (const message of seen.values()) {
        await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 }));
      }
    }
  } catch (cause) {
    throw new TotesError(`cannot peek at queue ${queueUrl}`, { context: { stage: 'cli' }, retryable: true, cause });
  }
  return [...seen.values()];
}

/** The object keys a message announces; a message that names none is listed under its own id. */
export function keysOfMessage(message: Message): string[] {
  const messageId = message.MessageId ?? '';
  try {
    const keys = objectsInNotification(message.Body ?? '').map((object) => object.key);
    return keys.length > 0 ? keys : [unreadableMessageKey(messageId)];
  } catch {
    return [unreadableMessageKey(messageId)];
  }
}

/** What a DLQ holds, each object with the last error the consumer recorded for it. */
export async function listDeadLetters(sqs: Sqs, journal: Pick<DynamoFailureJournal, 'lastFailures'>, dlqUrl: string, options: PeekOptions = {}): Promise<DeadLetter[]> {
  const messages = await peekMessages(sqs, dlqUrl, options);
  const letters = messages.flatMap((message) =>
    keysOfMessage(message).map((key) => ({
      messageId: message.MessageId ?? '',
      key,
      sentAt: message.Attributes?.SentTimestamp ? new Date(Number(message.Attributes.SentTimestamp)).toISOString() : null,
    })),
  );
  const failures = await journal.lastFailures(letters.map((letter) => letter.key));
  return letters.map((letter) => ({ ...letter, failure: failures.get(letter.key) ?? null })).sort((a, b) => a.key.localeCompare(b.key));
}

export interface RedriveOptions {
  /** How long to wait for an AWS move task to finish before reporting it as still running. */
  readonly waitSeconds?: number;
  readonly pollMs?: number;
  /** Fallback only: how long a message being moved stays hidden in the DLQ. */
  readonly holdSeconds?: number;
  readonly progress?: (line: string) => void;
}

export interface RedriveResult {
  readonly method: 'message-move-task' | 'receive-send-delete';
  readonly moved: number;
  /** False when an AWS move task was still running after `waitSeconds`. */
  readonly finished: boolean;
  readonly taskHandle?: string;
}

/**
 * Moves every message of a queue's DLQ back to the queue. On AWS that is a message move task
 * (the service moves them, at its own pace); where the API is missing (moto) each message is
 * received, sent to the queue, and only then deleted from the DLQ — so an interruption at any
 * point leaves every message in the DLQ, the queue, or both; a message in both is delivered
 * twice, which the idempotent stages absorb.
 */
export async function redriveDeadLetters(sqs: Sqs, queue: OperatorQueue, options: RedriveOptions = {}): Promise<RedriveResult> {
  let taskHandle: string | undefined;
  try {
    taskHandle = (await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: queue.dlqArn, DestinationArn: queue.arn }))).TaskHandle;
  } catch (error) {
    if (!isMoveTaskUnsupported(error)) {
      throw new TotesError(`cannot start moving ${queue.dlqName} back to ${queue.name}`, { context: { stage: 'cli' }, retryable: true, cause: error });
    }
    options.progress?.('the message move API is not available here; moving messages one by one');
    return { method: 'receive-send-delete', moved: await moveOneByOne(sqs, queue, options), finished: true };
  }
  return waitForMoveTask(sqs, queue, taskHandle, options);
}

/**
 * moto answers an unimplemented action with an HTML 500 page, which the SDK fails to parse;
 * other emulators and older endpoints answer with an "unknown/unsupported operation" error.
 */
export function isMoveTaskUnsupported(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const name = error.name;
  if (['UnsupportedOperation', 'UnknownOperationException', 'InvalidAction', 'NotImplemented', 'AWS.SimpleQueueService.UnsupportedOperation'].includes(name)) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return (status === 500 || status === 501) && /not implemented|Deserialization error|not valid JSON/i.test(error.message);
}

async function waitForMoveTask(sqs: Sqs, queue: OperatorQueue, taskHandle: string | undefined, options: RedriveOptions): Promise<RedriveResult> {
  const deadline = Date.now() + (options.waitSeconds ?? 300) * 1000;
  let moved = 0;
  for (;;) {
    const { Results = [] } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: queue.dlqArn, MaxResults: 1 }));
    const task = Results.find((result) => !taskHandle || result.TaskHandle === taskHandle) ?? Results[0];
    moved = task?.ApproximateNumberOfMessagesMoved ?? moved;
    if (task?.Status === 'COMPLETED') return { method: 'message-move-task', moved, finished: true, taskHandle };
    if (task?.Status === 'FAILED' || task?.Status === 'CANCELLED') {
      throw new TotesError(`moving ${queue.dlqName} back to ${queue.name} ${task.Status.toLowerCase()} after ${moved} messages: ${task.FailureReason ?? 'no reason given'}`, {
        context: { stage: 'cli' },
        retryable: true,
      });
    }
    if (Date.now() >= deadline) return { method: 'message-move-task', moved, finished: false, taskHandle };
    options.progress?.(`moving: ${moved} of ~${task?.ApproximateNumberOfMessagesToMove ?? '?'} messages`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 2000));
  }
}

async function moveOneByOne(sqs: Sqs, queue: OperatorQueue, options: RedriveOptions): Promise<number> {
  let moved = 0;
  for (;;) {
    let messages: Message[];
    try {
      messages = (await sqs.send(new ReceiveMessageCommand({
        QueueUrl: queue.dlqUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: options.holdSeconds ?? 60,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
      }))).Messages ?? [];
    } catch (cause) {
      throw new TotesError(`cannot receive from ${queue.dlqName} after moving ${moved} messages`, { context: { stage: 'cli' }, retryable: true, cause });
    }
    if (messages.length === 0) return moved;
    for (const message of messages) {
      const keys = keysOfMessage(message).join(', ');
      try {
        // Send before delete: a crash in between duplicates the message, never loses it.
        await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: message.Body ?? '', MessageAttributes: message.MessageAttributes }));
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queue.dlqUrl, ReceiptHandle: message.ReceiptHandle }));
      } catch (cause) {
        throw new TotesError(
          `redrive of ${queue.dlqName} stopped after ${moved} messages, at ${keys}: ${describeError(cause)}; nothing is lost (a message sent but not yet deleted is delivered twice, which loads absorb) — run the redrive again`,
          { context: { stage: 'cli' }, retryable: true, cause },
        );
      }
      moved += 1;
      options.progress?.(`moved ${keys}`);
    }
  }
}
