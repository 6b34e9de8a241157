import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TotesError } from '../errors';

/** How many messages a queue holds, by state. All three are zero only when nothing is left to do. */
export interface QueueDepth {
  readonly visible: number;
  /** Received and neither deleted nor returned yet: in flight, or failed and waiting out the visibility timeout. */
  readonly inFlight: number;
  readonly delayed: number;
}

export function isEmpty(depth: QueueDepth): boolean {
  return depth.visible + depth.inFlight + depth.delayed === 0;
}

export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  try {
    const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }));
    return {
      visible: Number(Attributes.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0),
    };
  } catch (cause) {
    throw new TotesError(`cannot read the depth of queue ${queueUrl}`, { retryable: true, cause });
  }
}

export async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  try {
    const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    if (!Attributes.QueueArn) throw new Error('no QueueArn attribute');
    return Attributes.QueueArn;
  } catch (cause) {
    throw new TotesError(`cannot read the ARN of queue ${queueUrl}`, { retryable: true, cause });
  }
}
