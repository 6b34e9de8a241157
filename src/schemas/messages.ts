import * as z from 'zod';

/**
 * The SQS body of an S3 event notification. Only what the pipeline reads is required: moto sends
 * minimal records, and AWS adds fields freely. Keys arrive URL-encoded (`+` for a space).
 */
export const S3NotificationRecord = z.object({
  eventName: z.string().optional(),
  s3: z.object({
    bucket: z.object({ name: z.string() }),
    object: z.object({
      key: z.string(),
      size: z.number().optional(),
      eTag: z.string().optional(),
      sequencer: z.string().optional(),
    }),
  }),
});
export type S3NotificationRecord = z.infer<typeof S3NotificationRecord>;

/** S3 sends this once when a notification is configured; it carries no object. */
export const S3TestEvent = z.object({ Event: z.literal('s3:TestEvent') });

export const S3NotificationBody = z.object({ Records: z.array(S3NotificationRecord) });

export interface ObjectRef {
  readonly bucket: string;
  readonly key: string;
}

/** S3 URL-encodes keys in notifications, with `+` standing for a space. */
export function decodeNotificationKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/**
 * Reads the objects an SQS message body announces. A test event yields none. A body that is
 * neither is an error, so a stray message ends in the DLQ instead of being dropped silently.
 */
export function objectsInNotification(body: string): ObjectRef[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (cause) {
    throw new Error('message body is not JSON', { cause });
  }
  if (S3TestEvent.safeParse(json).success) return [];
  const parsed = S3NotificationBody.safeParse(json);
  if (!parsed.success) throw new Error(`message body is not an S3 notification: ${parsed.error.message}`);
  return parsed.data.Records.map((record) => ({
    bucket: record.s3.bucket.name,
    key: decodeNotificationKey(record.s3.object.key),
  }));
}
