import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createObjectConsumerHandler } from '../../src/handlers/runtime/sqs-objects';
import { silentLogger } from '../../src/observability/logger';

function notification(messageId: string, key: string, receiveCount: string): SQSEvent['Records'][number] {
  return {
    messageId,
    receiptHandle: 'handle',
    body: JSON.stringify({ Records: [{ s3: { bucket: { name: 'processed' }, object: { key } } }] }),
    attributes: { ApproximateReceiveCount: receiveCount, SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-2:123456789012:load',
    awsRegion: 'eu-west-2',
  };
}

describe('the SQS object consumer', () => {
  it("hands each object its message's receive count, so a consumer knows a redelivery", async () => {
    // prepare
    const seen: Array<{ key: string; receiveCount: number }> = [];
    const handler = createObjectConsumerHandler(async () => ({
      logger: silentLogger,
      bucket: 'processed',
      process: async (key, delivery) => seen.push({ key, receiveCount: delivery.receiveCount }),
    }));

    // act
    await handler({ Records: [notification('m1', 'fact_sales_order/a.parquet', '1'), notification('m2', 'fact_sales_order/b.parquet', '3')] }, {} as Context);

    // assert
    expect(seen.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'fact_sales_order/a.parquet', receiveCount: 1 },
      { key: 'fact_sales_order/b.parquet', receiveCount: 3 },
    ]);
  });
});
