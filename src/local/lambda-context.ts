import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export interface LambdaContextOptions {
  readonly functionName: string;
  /** The function's timeout: getRemainingTimeInMillis counts down from it, as middy's timeoutEarly expects. */
  readonly timeoutMs?: number;
  readonly memoryLimitInMB?: number;
  readonly region?: string;
  readonly accountId?: string;
  readonly now?: () => number;
}

/** A Lambda context as the runtime passes it, for invoking handlers locally and in tests. */
export function lambdaContext(options: LambdaContextOptions): Context {
  const now = options.now ?? Date.now;
  const deadline = now() + (options.timeoutMs ?? 120_000);
  const region = options.region ?? 'eu-west-2';
  const accountId = options.accountId ?? '123456789012';
  const requestId = randomUUID();
  const unsupported = () => {
    throw new Error('callback-style completion is not supported: return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${accountId}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 1024),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `${new Date(now()).toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${requestId.replace(/-/g, '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
