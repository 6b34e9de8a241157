import middy from '@middy/core';
import sqsPartialBatchFailure from '@middy/sqs-partial-batch-failure';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createAwsClients } from '../../src/aws/clients';
import { awsClientConfig } from '../../src/aws/config';
import { drainQueue, drainQueues, pollBatch, type EventSource } from '../../src/local/event-source';
import { testAwsSettings, uniqueName } from '../support/aws';

const { sqs } = createAwsClients(testAwsSettings());

interface TestQueue {
  readonly url: string;
  readonly arn: string;
  readonly dlqUrl: string;
}

/** A queue with a DLQ, a short visibility timeout so redelivery happens within a test. */
async function createQueue(options: { visibilityTimeout?: number; maxReceiveCount?: number } = {}): Promise<TestQueue> {
  const name = uniqueName('es');
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  const queue = await sqs.send(new CreateQueueCommand({
    QueueName: name,
    Attributes: {
      VisibilityTimeout: String(options.visibilityTimeout ?? 1),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? 3 }),
    },
  }));
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.QueueUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
  return { url: queue.QueueUrl ?? '', arn: arn ?? '', dlqUrl: dlq.QueueUrl ?? '' };
}

async function send(queueUrl: string, bodies: readonly string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    const chunk = bodies.slice(start, start + 10);
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk.map((body, index) => ({ Id: String(index), MessageBody: body })) }));
  }
}

async function visibleCount(queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible);
}

/** A handler as the project writes them: middy, per-record settlement, records failing on `fail`. */
function recordHandler(seen: SQSRecord[] = [], contexts: Context[] = []) {
  return middy(async (event: SQSEvent, context: Context) => {
    contexts.push(context);
    seen.push(...event.Records);
    return Promise.allSettled(event.Records.map(async (record) => {
      if (record.body.startsWith('fail')) throw new Error(`cannot process ${record.body}`);
    }));
  }).use(sqsPartialBatchFailure({ logger: () => undefined }));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('pollBatch', () => {
  it('delivers at most the batch size, as a real SQSEvent with a Lambda context', async () => {
    const queue = await createQueue();
    await sqs.send(new SendMessageCommand({
      QueueUrl: queue.url, MessageBody: 'first',
      MessageAttributes: { kind: { DataType: 'String', StringValue: 'test' } },
    }));
    await send(queue.url, ['a', 'b', 'c', 'd']);
    const seen: SQSRecord[] = [];
    const contexts: Context[] = [];

    const result = await pollBatch({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: recordHandler(seen, contexts), batchSize: 3, functionName: 'totes-local-transform' });

    expect(result).toMatchObject({ received: 3, succeeded: 3, failed: 0 });
    expect(seen).toHaveLength(3);
    const first = seen.find((record) => record.body === 'first');
    expect(first).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: 'eu-west-2',
      attributes: { ApproximateReceiveCount: '1' },
      messageAttributes: { kind: { dataType: 'String', stringValue: 'test' } },
    });
    expect(first?.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    expect(Number(first?.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(contexts[0]?.functionName).toBe('totes-local-transform');
    expect(contexts[0]?.getRemainingTimeInMillis()).toBeGreaterThan(100_000);
    expect(await visibleCount(queue.url)).toBe(2);
  });

  it('deletes the successes and leaves a reported failure to reappear after the visibility timeout, with its receive count raised', async () => {
    const queue = await createQueue({ visibilityTimeout: 1 });
    await send(queue.url, ['ok-1', 'fail-1', 'ok-2']);

    const first = await pollBatch({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: recordHandler() });
    const immediately = await pollBatch({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: recordHandler(), waitSeconds: 0 });
    await sleep(1500);
    const redelivered: SQSRecord[] = [];
    await pollBatch({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: recordHandler(redelivered) });

    expect(first).toMatchObject({ received: 3, succeeded: 2, failed: 1 });
    expect(immediately.received).toBe(0);
    expect(redelivered.map((record) => [record.body, record.attributes.ApproximateReceiveCount])).toEqual([['fail-1', '2']]);
  });

  it('fails the whole batch when the handler throws', async () => {
    const queue = await createQueue({ visibilityTimeout: 1 });
    await send(queue.url, ['ok-1', 'ok-2']);
    const throwing = async () => {
      throw new Error('database unreachable');
    };

    const result = await pollBatch({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: throwing });
    await sleep(1500);
    const redelivered: SQSRecord[] = [];
    await pollBatch({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: recordHandler(redelivered) });

    expect(result).toMatchObject({ received: 2, succeeded: 0, failed: 2 });
    expect(redelivered.map((record) => record.body).sort()).toEqual(['ok-1', 'ok-2']);
  });

  it('fails the whole batch when the handler reports an id that is not in it, as Lambda does', async () => {
    const queue = await createQueue({ visibilityTimeout: 30 });
    await send(queue.url, ['ok-1', 'ok-2']);

    const result = await pollBatch({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: async () => ({ batchItemFailures: [{ itemIdentifier: 'nope' }] }) });

    expect(result).toMatchObject({ received: 2, succeeded: 0, failed: 2 });
    expect(await visibleCount(queue.url)).toBe(2);
  });

  it('reads the queue ARN itself when it is not given', async () => {
    const queue = await createQueue();
    await send(queue.url, ['ok']);
    const seen: SQSRecord[] = [];

    await pollBatch({ sqs, queueUrl: queue.url, handler: recordHandler(seen) });

    expect(seen[0]?.eventSourceARN).toBe(queue.arn);
  });

  it('rejects a batch size Lambda-on-SQS cannot receive in one call', async () => {
    const queue = await createQueue();

    await expect(pollBatch({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: recordHandler(), batchSize: 11 })).rejects.toThrow(/batch size/);
  });
});

describe('drainQueue', () => {
  it('moves a poison message to the DLQ after maxReceiveCount receives and processes the rest', async () => {
    const queue = await createQueue({ visibilityTimeout: 1, maxReceiveCount: 2 });
    await send(queue.url, ['ok-1', 'fail-poison', 'ok-2']);
    const seen: SQSRecord[] = [];

    const result = await drainQueue({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: recordHandler(seen), waitSeconds: 1 }, { timeoutMs: 20_000 });

    expect(result).toMatchObject({ succeeded: 2, failed: 2 });
    expect(seen.filter((record) => record.body === 'fail-poison').map((record) => record.attributes.ApproximateReceiveCount)).toEqual(['1', '2']);
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect(Messages.map((message) => message.Body)).toEqual(['fail-poison']);
    expect(await visibleCount(queue.url)).toBe(0);
  });

  it('processes batches concurrently and returns only when nothing is visible or in flight', async () => {
    const queue = await createQueue({ visibilityTimeout: 30 });
    await send(queue.url, Array.from({ length: 25 }, (_, index) => `ok-${index}`));
    let running = 0;
    let maxRunning = 0;
    const slow: EventSource['handler'] = async () => {
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await sleep(300);
      running -= 1;
      return { batchItemFailures: [] };
    };

    const result = await drainQueue({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: slow, batchSize: 5 }, { timeoutMs: 20_000, concurrency: 3 });

    expect(result.succeeded).toBe(25);
    expect(result.batches).toBeGreaterThanOrEqual(5);
    expect(maxRunning).toBeGreaterThan(1);
    expect(await visibleCount(queue.url)).toBe(0);
  });

  it('drains a queue fed by another queue\'s handler before returning', async () => {
    const upstream = await createQueue();
    const downstream = await createQueue();
    await send(upstream.url, ['a', 'b']);
    const arrived: string[] = [];
    const forward: EventSource['handler'] = async (event) => {
      await send(downstream.url, event.Records.map((record) => `from-${record.body}`));
    };
    const collect: EventSource['handler'] = async (event) => {
      arrived.push(...event.Records.map((record) => record.body));
    };

    await drainQueues([
      { sqs, queueUrl: upstream.url, handler: forward },
      { sqs, queueUrl: downstream.url, handler: collect },
    ], { timeoutMs: 20_000 });

    expect(arrived.sort()).toEqual(['from-a', 'from-b']);
  });

  it('keeps polling an empty queue until upstream is done, then drains what arrived meanwhile', async () => {
    // prepare: the queue is empty when the drain starts; a producer sends later
    const queue = await createQueue();
    const arrived: string[] = [];
    let producerDone = false;
    const producer = (async () => {
      await sleep(1500);
      await send(queue.url, ['late-1', 'late-2']);
      producerDone = true;
    })();

    // act
    await drainQueue(
      { sqs, queueUrl: queue.url, queueArn: queue.arn, waitSeconds: 1, handler: async (event) => { arrived.push(...event.Records.map((record) => record.body)); } },
      { timeoutMs: 20_000, upstreamDone: () => producerDone },
    );
    await producer;

    // assert
    expect(arrived.sort()).toEqual(['late-1', 'late-2']);
  });

  it('does not stop on one depth answer that misses a message whose visibility timeout is ending', async () => {
    // prepare: a message that fails its first delivery and stays hidden for 3 s, and a client
    // whose first depth answer after that failure counts nothing, as moto's can when the
    // visibility timeout ends between its reads of the visible and the in-flight count
    const queue = await createQueue({ visibilityTimeout: 3 });
    await send(queue.url, ['retry-me']);
    let deliveries = 0;
    const failFirstDelivery: EventSource['handler'] = async (event) => {
      deliveries += event.Records.length;
      return { batchItemFailures: deliveries === 1 ? event.Records.map((record) => ({ itemIdentifier: record.messageId })) : [] };
    };
    const flaky = new SQSClient(awsClientConfig(testAwsSettings()));
    const stub = mockClient(flaky);
    stub.on(ReceiveMessageCommand).callsFake((input) => sqs.send(new ReceiveMessageCommand(input)));
    stub.on(DeleteMessageBatchCommand).callsFake((input) => sqs.send(new DeleteMessageBatchCommand(input)));
    let missed = 0;
    stub.on(GetQueueAttributesCommand).callsFake((input) => {
      if (deliveries === 1 && missed === 0) {
        missed += 1;
        return { Attributes: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } };
      }
      return sqs.send(new GetQueueAttributesCommand(input));
    });

    // act
    const result = await drainQueue({ sqs: flaky, queueUrl: queue.url, queueArn: queue.arn, handler: failFirstDelivery, waitSeconds: 1 }, { timeoutMs: 20_000 }).finally(() => stub.restore());

    // assert: the miss happened, and the drain still waited for the retry
    expect(missed).toBe(1);
    expect(result).toMatchObject({ succeeded: 1, failed: 1 });
    expect(await visibleCount(queue.url)).toBe(0);
  });

  it('gives up after the timeout, naming what is left', async () => {
    const queue = await createQueue({ visibilityTimeout: 30 });
    await send(queue.url, ['fail-forever']);

    await expect(drainQueue({ sqs, queueUrl: queue.url, queueArn: queue.arn, handler: recordHandler() }, { timeoutMs: 1500 }))
      .rejects.toThrow(/not drained within 1500 ms: .*0 visible, 1 in flight/);
  });
});
