import middy from '@middy/core';
import sqsPartialBatchFailure from '@middy/sqs-partial-batch-failure';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { TotesError, describeError } from '../../errors';
import { objectsInNotification } from '../../schemas/messages';
import type { Logger } from '../../stages/ports';

export interface ObjectConsumer {
  readonly logger: Logger;
  /** The bucket notifications must come from; a record from any other bucket is an error. */
  readonly bucket: string;
  /** `delivery.receiveCount` is the message's receive count: above 1, an earlier attempt failed. */
  readonly process: (key: string, delivery: { readonly receiveCount: number }) => Promise<unknown>;
  /** Called for each failed record before it is reported, e.g. to back off a retry. */
  readonly onFailure?: (record: SQSRecord, error: unknown) => Promise<void>;
}

/** Which delivery of its message a record is: 1 for the first, more once earlier attempts failed. */
export function deliveryAttempt(record: SQSRecord): number {
  return Math.max(1, Number(record.attributes.ApproximateReceiveCount) || 1);
}

async function processRecord(record: SQSRecord, consumer: ObjectConsumer): Promise<void> {
  for (const object of objectsInNotification(record.body)) {
    if (object.bucket !== consumer.bucket) {
      throw new TotesError(`notification for s3://${object.bucket}/${object.key}, but this function consumes ${consumer.bucket}`, {
        context: { bucket: object.bucket, key: object.key },
      });
    }
    try {
      await consumer.process(object.key, { receiveCount: deliveryAttempt(record) });
    } catch (error) {
      // The key travels with the error so the failure log (and the DLQ listing) names the object.
      throw error instanceof TotesError && error.context.key ? error : new TotesError(`s3://${object.bucket}/${object.key}: ${describeError(error)}`, { context: { bucket: object.bucket, key: object.key }, retryable: error instanceof TotesError ? error.retryable : true, cause: error });
    }
  }
}

/**
 * An SQS-triggered handler over S3 notifications. The middleware order is fixed here, once:
 * records settle independently (Promise.allSettled in record order) and
 * sqs-partial-batch-failure turns the rejected ones into `batchItemFailures`, so a bad object
 * fails only its own message and the rest of the batch is deleted.
 */
export function createObjectConsumerHandler(getConsumer: () => Promise<ObjectConsumer>) {
  const settleBatch = async (event: SQSEvent) => {
    const consumer = await getConsumer();
    return Promise.allSettled(
      event.Records.map(async (record) => {
        try {
          await processRecord(record, consumer);
        } catch (error) {
          const context = error instanceof TotesError ? error.context : {};
          consumer.logger.error('record failed', {
            event: 'record_failed',
            messageId: record.messageId,
            receiveCount: Number(record.attributes.ApproximateReceiveCount),
            key: context.key,
            retryable: error instanceof TotesError ? error.retryable : true,
            error: describeError(error),
          });
          await consumer.onFailure?.(record, error).catch((hookError: unknown) =>
            consumer.logger.warn('failure hook failed', { messageId: record.messageId, error: describeError(hookError) }),
          );
          throw error;
        }
      }),
    );
  };
  // The middleware replaces the settled results with the batch response Lambda reads.
  return middy(settleBatch).use(sqsPartialBatchFailure({ logger: false as never })) as unknown as (event: SQSEvent, context: unknown) => Promise<SQSBatchResponse>;
}
