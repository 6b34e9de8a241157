import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TotesError } from '../errors';
import type { BucketId, QueueId, StackModel } from '../local/stack-model';
import type { OperatorStack } from './stack';

export interface ReplayTarget {
  readonly queue: QueueId;
  readonly bucket: BucketId;
}

/**
 * The queue S3 would notify of this key, by the same prefix and suffix filters the buckets'
 * notifications use (infra/stack.cjs): `.csv` under a source table → transform, `.parquet`
 * under a warehouse table → load. Null for any other key.
 */
export function replayTarget(model: StackModel, key: string): ReplayTarget | null {
  for (const bucket of model.buckets) {
    const { prefixes, suffix, queue } = bucket.notification;
    if (key.endsWith(suffix) && prefixes.some((prefix) => key.startsWith(prefix))) return { queue, bucket: bucket.id };
  }
  return null;
}

export const REPLAY_KEY_HINT = 'expected <source table>/….csv (transform) or <warehouse table>/….parquet (load), as totes dlq list prints them';

/** S3's notification encoding: URL-encoded, `+` for a space, `/` kept. */
export function encodeNotificationKey(key: string): string {
  return key.split('/').map((segment) => encodeURIComponent(segment).replace(/%20/g, '+')).join('/');
}

/** An S3 event notification body, the shape S3 itself sends to the queue. */
export function s3NotificationBody(input: { region: string; bucket: string; key: string; size: number; eTag?: string; at: Date }): string {
  return JSON.stringify({
    Records: [{
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: input.region,
      eventTime: input.at.toISOString(),
      eventName: 'ObjectCreated:Put',
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'totes-replay',
        bucket: { name: input.bucket, arn: `arn:aws:s3:::${input.bucket}` },
        object: { key: encodeNotificationKey(input.key), size: input.size, ...(input.eTag ? { eTag: input.eTag.replace(/"/g, '') } : {}) },
      },
    }],
  });
}

export interface ReplayResult {
  readonly key: string;
  readonly bucket: string;
  readonly queue: QueueId;
  readonly messageId: string;
}

/**
 * Sends one object's notification again, e.g. when the original was lost or deleted by hand.
 * The object must exist: a notification for a missing object would only fail its consumer.
 */
export async function replayObject(clients: { s3: S3Client; sqs: Pick<SQSClient, 'send'> }, stack: OperatorStack, key: string, now: Date = new Date()): Promise<ReplayResult> {
  const found = replayTarget(stack.model, key);
  if (!found) throw new TotesError(`${key} is not an object any queue consumes: ${REPLAY_KEY_HINT}`, { context: { stage: 'cli', key } });
  const target = { queue: found.queue, bucket: stack.buckets[found.bucket] };
  let head;
  try {
    head = await clients.s3.send(new HeadObjectCommand({ Bucket: target.bucket, Key: key }));
  } catch (cause) {
    const name = (cause as { name?: string }).name;
    if (name === 'NotFound' || name === 'NoSuchKey') {
      throw new TotesError(`s3://${target.bucket}/${key} does not exist`, { context: { stage: 'cli', bucket: target.bucket, key }, cause });
    }
    throw new TotesError(`cannot read s3://${target.bucket}/${key}`, { context: { stage: 'cli', bucket: target.bucket, key }, retryable: true, cause });
  }
  const queue = stack.queues[target.queue];
  const body = s3NotificationBody({ region: stack.region, bucket: target.bucket, key, size: head.ContentLength ?? 0, eTag: head.ETag, at: now });
  try {
    const sent = await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: body }));
    return { key, bucket: target.bucket, queue: target.queue, messageId: sent.MessageId ?? '' };
  } catch (cause) {
    throw new TotesError(`cannot send the notification of ${key} to ${queue.name}`, { context: { stage: 'cli', key }, retryable: true, cause });
  }
}
