/**
 * Bounds how many objects one process works on at once.
 *
 * Lambda hands a consumer up to 10 records and the consumer settles them all at once, so an
 * initial load put ten 100,000-row objects in flight in one 1 GB container: the bench measured
 * 1.1 GB peak RSS for the transform at 1,000,000 sales orders. The container has about one vCPU,
 * so more than two objects at once only add memory, not speed: two keep the CPU busy while the
 * other waits on S3 or PostgreSQL. The load takes one (stages/load/index.ts): its time is
 * PostgreSQL's, and a second object only added memory. Waiting here has no deadline; the Lambda
 * timeout bounds it.
 */
export type InFlightLimit = <T>(work: () => Promise<T>) => Promise<T>;

export const DEFAULT_OBJECTS_IN_FLIGHT = 2;

export function createInFlightLimit(limit: number): InFlightLimit {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`the in-flight limit must be a positive integer, got ${limit}`);
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (work) => {
    // A slot freed by a finishing object is handed straight to the next waiter.
    if (active < limit) active += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}
