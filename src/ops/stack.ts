import { GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../aws/clients';
import { TotesError } from '../errors';
import { bucketModel, loadStackModel, queueModel, tableModel, type QueueId, type StackModel } from '../local/stack-model';

export interface OperatorQueue {
  readonly id: QueueId;
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly dlqName: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

/** The resources of one deployed (or locally provisioned) stage, as the operator's commands need them. */
export interface OperatorStack {
  readonly model: StackModel;
  readonly stage: string;
  readonly region: string;
  readonly account: string;
  readonly buckets: { readonly ingestion: string; readonly processed: string };
  readonly queues: { readonly transform: OperatorQueue; readonly load: OperatorQueue };
  readonly tables: { readonly watermark: string; readonly state: string; readonly failures: string };
}

export interface ResolveStackOptions {
  readonly stage: string;
  /** Set for a local emulator: bucket names are then the model's, without the account suffix. */
  readonly endpoint?: string;
}

/**
 * Finds a stage's resources by the names infra/stack.cjs gives them. The queues are looked up
 * first: a missing one means the stage is not deployed (or not provisioned locally), and a queue
 * ARN carries the account id that deployed bucket names end with — so no STS call is needed.
 */
export async function resolveOperatorStack(clients: AwsClients, options: ResolveStackOptions): Promise<OperatorStack> {
  const model = loadStackModel({ stage: options.stage });
  const region = await clients.sqs.config.region();
  const transform = await resolveQueue(clients, model, 'transform');
  const load = await resolveQueue(clients, model, 'load');
  const account = transform.arn.split(':')[4] ?? '';
  // On AWS bucket names are global, so the stack appends -<account>-<region> (infra/README.md).
  const bucketName = (id: 'ingestion' | 'processed') => (options.endpoint ? bucketModel(model, id).name : `${bucketModel(model, id).name}-${account}-${region}`);
  return {
    model,
    stage: model.stage,
    region,
    account,
    buckets: { ingestion: bucketName('ingestion'), processed: bucketName('processed') },
    queues: { transform, load },
    tables: { watermark: tableModel(model, 'watermark').name, state: tableModel(model, 'state').name, failures: tableModel(model, 'failures').name },
  };
}

async function resolveQueue(clients: AwsClients, model: StackModel, id: QueueId): Promise<OperatorQueue> {
  const queue = queueModel(model, id);
  const main = await lookUpQueue(clients, queue.name, model.stage);
  const dlq = await lookUpQueue(clients, queue.dlq.name, model.stage);
  return { id, name: queue.name, url: main.url, arn: main.arn, dlqName: queue.dlq.name, dlqUrl: dlq.url, dlqArn: dlq.arn };
}

async function lookUpQueue(clients: AwsClients, name: string, stage: string): Promise<{ url: string; arn: string }> {
  try {
    const url = (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    if (!url) throw new Error('no QueueUrl returned');
    const arn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
    if (!arn) throw new Error('no QueueArn returned');
    return { url, arn };
  } catch (cause) {
    if (cause instanceof QueueDoesNotExist || (cause as { name?: string }).name === 'QueueDoesNotExist' || (cause as { name?: string }).name === 'AWS.SimpleQueueService.NonExistentQueue') {
      throw new TotesError(`queue ${name} does not exist: stage ${stage} is not deployed here (serverless deploy --stage ${stage}) or not provisioned locally (totes up)`, {
        context: { stage: 'cli' },
        cause,
      });
    }
    throw new TotesError(`cannot look up queue ${name}`, { context: { stage: 'cli' }, retryable: true, cause });
  }
}

export function operatorQueue(stack: OperatorStack, id: QueueId): OperatorQueue {
  return stack.queues[id];
}
