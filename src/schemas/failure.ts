import * as z from 'zod';

/**
 * The failure journal (DynamoDB, hash key `key`): the last failure of each object a consumer
 * could not process. A DLQ message carries no reason, so `totes dlq list` joins the DLQ's
 * object keys with these items. `expiresAt` (epoch seconds) is the table's TTL attribute.
 */
export const FailureItem = z.object({
  /** The S3 object key, or `message/<messageId>` when the message named no readable object. */
  key: z.string().min(1),
  stage: z.enum(['transform', 'load']),
  messageId: z.string(),
  receiveCount: z.number().int().nonnegative(),
  error: z.string(),
  retryable: z.boolean(),
  /** ISO 8601 time of the failure. */
  at: z.string(),
  expiresAt: z.number().int().positive(),
});
export type FailureItem = z.infer<typeof FailureItem>;

/** The journal key of a message whose body named no object (unreadable, or not a notification). */
export function unreadableMessageKey(messageId: string): string {
  return `message/${messageId}`;
}

/** How long a journal entry lives: a day longer than a DLQ keeps its messages (14 days). */
export const FAILURE_TTL_SECONDS = 15 * 24 * 60 * 60;
