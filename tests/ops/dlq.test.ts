import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { awsClientConfig } from '../../src/aws/config';
import { queueDepth } from '../../src/aws/sqs-queue';
import { peekMessages, redriveDeadLetters } from '../../src/ops/dlq';
import type { OperatorQueue } from '../../src/ops/stack';
import { testAwsSettings, uniqueName } from '../support/aws';

const sqs = new SQSClient(awsClientConfig(testAwsSettings()));

async function queuePair(): Promise<OperatorQueue> {
  const name = uniqueName('q');
  const create = async (QueueName: string) => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName }))).QueueUrl ?? '';
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn ?? '';
    return { url, arn };
  };
  const dlq = await create(`${name}-dlq`);
  const main = await create(name);
  return { id: 'transform', name, url: main.url, arn: main.arn, dlqName: `${name}-dlq`, dlqUrl: dlq.url, dlqArn: dlq.arn };
}

/** Receives and deletes everything visible; the bodies, sorted. */
async function drainBodies(url: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    if (Messages.length === 0) return bodies.sort();
    for (const message of Messages) {
      bodies.push(message.Body ?? '');
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}

async function total(url: string): Promise<number> {
  const depth = await queueDepth(sqs, url);
  return depth.visible + depth.inFlight + depth.delayed;
}

const bodies = ['{"n":1}', '{"n":2}', '{"n":3}'];

describe('peekMessages', () => {
  it('returns every message and leaves all of them visible', async () => {
    // prepare
    const queue = await queuePair();
    for (const MessageBody of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: queue.dlqUrl, MessageBody }));

    // act
    const peeked = await peekMessages(sqs, queue.dlqUrl, { holdSeconds: 30 });

    // assert
    expect(peeked.map((message) => message.Body).sort()).toEqual(bodies);
    expect(await queueDepth(sqs, queue.dlqUrl)).toMatchObject({ visible: 3, inFlight: 0 });
  });
});

describe('redriveDeadLetters', () => {
  it('starts a message move task from the DLQ to its queue and reports what it moved', async () => {
    // prepare: moto lacks the move-task API, so this path runs against a stubbed client
    const queue = await queuePair();
    const stubbed = new SQSClient(awsClientConfig(testAwsSettings()));
    const stub = mockClient(stubbed);
    stub.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-1' });
    stub
      .on(ListMessageMoveTasksCommand)
      .resolvesOnce({ Results: [{ TaskHandle: 'task-1', Status: 'RUNNING', ApproximateNumberOfMessagesMoved: 1, ApproximateNumberOfMessagesToMove: 3 }] })
      .resolves({ Results: [{ TaskHandle: 'task-1', Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 3 }] });

    // act
    const result = await redriveDeadLetters(stubbed, queue, { pollMs: 1 });

    // assert
    expect(result).toEqual({ method: 'message-move-task', moved: 3, finished: true, taskHandle: 'task-1' });
    expect(stub.commandCalls(StartMessageMoveTaskCommand)[0]?.args[0].input).toEqual({ SourceArn: queue.dlqArn, DestinationArn: queue.arn });
    stub.restore();
  });

  it('reports a failed move task with its reason', async () => {
    // prepare
    const queue = await queuePair();
    const stubbed = new SQSClient(awsClientConfig(testAwsSettings()));
    const stub = mockClient(stubbed);
    stub.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'task-2' });
    stub.on(ListMessageMoveTasksCommand).resolves({ Results: [{ TaskHandle: 'task-2', Status: 'FAILED', ApproximateNumberOfMessagesMoved: 1, FailureReason: 'AccessDenied' }] });

    // act
    const redrive = redriveDeadLetters(stubbed, queue, { pollMs: 1 });

    // assert
    await expect(redrive).rejects.toThrow(/failed after 1 messages: AccessDenied/);
    stub.restore();
  });

  it('moves every message back one by one where the move-task API is missing', async () => {
    // prepare
    const queue = await queuePair();
    for (const MessageBody of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: queue.dlqUrl, MessageBody }));

    // act
    const result = await redriveDeadLetters(sqs, queue);

    // assert
    expect(result).toEqual({ method: 'receive-send-delete', moved: 3, finished: true });
    expect(await total(queue.dlqUrl)).toBe(0);
    expect(await drainBodies(queue.url)).toEqual(bodies);
  });

  it('loses nothing when interrupted between the send and the delete, and a rerun finishes the move', async () => {
    // prepare: a client that passes everything to moto but fails the first delete
    const queue = await queuePair();
    for (const MessageBody of bodies) await sqs.send(new SendMessageCommand({ QueueUrl: queue.dlqUrl, MessageBody }));
    const faulty = new SQSClient(awsClientConfig(testAwsSettings()));
    const stub = mockClient(faulty);
    stub.on(StartMessageMoveTaskCommand).callsFake((input) => sqs.send(new StartMessageMoveTaskCommand(input)));
    stub.on(ReceiveMessageCommand).callsFake((input) => sqs.send(new ReceiveMessageCommand(input)));
    stub.on(SendMessageCommand).callsFake((input) => sqs.send(new SendMessageCommand(input)));
    stub.on(DeleteMessageCommand).rejects(new Error('connection reset'));

    // act
    const interrupted = redriveDeadLetters(faulty, queue, { holdSeconds: 1 });

    // assert: the first message is in the queue and, once its hold expires, still in the DLQ
    await expect(interrupted).rejects.toThrow(/stopped after 0 messages.*nothing is lost/);
    stub.restore();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await total(queue.dlqUrl)).toBe(3);
    const rerun = await redriveDeadLetters(sqs, queue);
    expect(rerun.moved).toBe(3);
    expect(await total(queue.dlqUrl)).toBe(0);
    const delivered = await drainBodies(queue.url);
    expect(new Set(delivered)).toEqual(new Set(bodies));
    expect(delivered).toHaveLength(4);
  });
});
