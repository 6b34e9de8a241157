import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Queue handling a reliability test does by hand: holding notifications back, sending them again
 * (twice, or in another order), and the operator's DLQ redrive.
 */

/** Receives every visible message and deletes it: the bodies are now the test's to send on. */
export async function takeAll(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let emptyReceives = 0; emptyReceives < 2;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0 }));
    if (Messages.length === 0) {
      emptyReceives += 1;
      continue;
    }
    for (const message of Messages) {
      bodies.push(message.Body ?? '');
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  return bodies;
}

export async function sendAll(sqs: SQSClient, queueUrl: string, bodies: readonly string[]): Promise<void> {
  for (const body of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

/**
 * `totes dlq redrive` as an operator runs it (moto has no StartMessageMoveTask): each dead
 * letter is sent back to its source queue, then deleted from the DLQ. Returns how many moved.
 */
export async function redrive(sqs: SQSClient, dlqUrl: string, queueUrl: string): Promise<number> {
  const bodies = await takeAll(sqs, dlqUrl);
  await sendAll(sqs, queueUrl, bodies);
  return bodies.length;
}

/** The body S3 sends to SQS when an object is created (the fields the pipeline reads). */
export function notificationBody(bucket: string, key: string): string {
  return JSON.stringify({
    Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: bucket }, object: { key: encodeURIComponent(key).replace(/%2F/g, '/') } } }],
  });
}

/** A seeded Fisher–Yates shuffle, so a failing order can be replayed. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

/** A small seeded PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
