import type { SQSEvent } from 'aws-lambda';
import type { SqsHandler } from '../../../src/local/event-source';

/**
 * A container that dies once, after running the first half of a batch's records for real: the
 * work of those records is done, but Lambda never hears the answer and returns the whole batch
 * to the queue.
 */
export function dieAfterPartOfOneBatch(): { wrap: (handler: SqsHandler) => SqsHandler; fired: () => boolean } {
  let fired = false;
  return {
    fired: () => fired,
    wrap: (handler) => async (event, context) => {
      if (fired || event.Records.length < 2) return handler(event, context);
      fired = true;
      const processed: SQSEvent = { Records: event.Records.slice(0, Math.ceil(event.Records.length / 2)) };
      await handler(processed, context);
      throw new Error('injected: the container died before answering');
    },
  };
}
