import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { TotesError } from '../errors';
import { type ObjectBody, type ObjectStore, type PutResult, isBodyInParts } from '../stages/ports';

/**
 * Multipart part size: large enough for throughput, small enough to keep memory flat (an upload
 * holds up to two parts). 16 MB puts a whole 100,000-row ingestion object (10–11 MB of CSV) in
 * one PUT instead of a four-request multipart upload; with 8 MB, moto notified each multipart
 * object twice, and the bench's transform did 26 of its 49 objects at 1,000,000 sales orders twice.
 */
const PART_SIZE = 16 * 1024 * 1024;

function isAlreadyExists(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.name === 'PreconditionFailed' || error.$metadata?.httpStatusCode === 412 || error.name === 'ConditionalRequestConflict';
}

/** Worth another attempt: the request never got an answer, or S3 was busy or failing. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return true;
  const status = error.$metadata?.httpStatusCode ?? 0;
  return status >= 500 || status === 429 || status === 408 || error.name === 'SlowDown' || error.name === 'RequestTimeout';
}

/** CRC32 of the parts as one object, base64 of its big-endian bytes, as S3 takes it. */
function crc32Base64(parts: readonly Uint8Array[]): string {
  let checksum = 0;
  for (const part of parts) checksum = crc32(part, checksum);
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(checksum >>> 0);
  return bytes.toString('base64');
}

function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.$metadata?.httpStatusCode === 404));
}

/** An ObjectStore over one S3 bucket. Writes are create-only (`If-None-Match: *`). */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async putNew(key: string, body: ObjectBody, contentType: string): Promise<PutResult> {
    try {
      if (isBodyInParts(body)) {
        await this.putParts(key, body, contentType);
        return { created: true };
      }
      // lib-storage streams a Readable in parts (bounded memory) and does a single PUT for small bodies.
      const upload = new Upload({
        client: this.s3,
        params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType, IfNoneMatch: '*' },
        partSize: PART_SIZE,
        queueSize: 2,
      });
      await upload.done();
      return { created: true };
    } catch (error) {
      if (isAlreadyExists(error)) return { created: false };
      throw new TotesError(`cannot write s3://${this.bucket}/${key}`, { context: { bucket: this.bucket, key }, retryable: true, cause: error });
    }
  }

  /**
   * One PUT of parts that follow one another, streamed from them: no copy of the whole object is
   * made. The checksum is computed here and sent with the request, so the SDK neither hashes the
   * stream nor switches to aws-chunked encoding, and S3 still verifies what it stores.
   *
   * The SDK does not retry a streamed body (it cannot read it twice), so this does, with a fresh
   * stream over the same parts each time. The caller keeps the parts unchanged until this settles;
   * S3 answers a PUT only after reading the whole Content-Length, so a stored object never holds
   * bytes read after that.
   */
  private async putParts(key: string, parts: readonly Uint8Array[], contentType: string): Promise<void> {
    const contentLength = parts.reduce((total, part) => total + part.byteLength, 0);
    const checksum = crc32Base64(parts);
    const attempts = await this.s3.config.maxAttempts();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.s3.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: Readable.from(parts, { objectMode: false }),
            ContentLength: contentLength,
            ContentType: contentType,
            ChecksumAlgorithm: 'CRC32',
            ChecksumCRC32: checksum,
            IfNoneMatch: '*',
          }),
        );
        return;
      } catch (error) {
        if (attempt >= attempts || !isTransient(error)) throw error;
        // The SDK's own back-off is 100 ms doubling, with jitter; so is this.
        await sleep(Math.random() * 100 * 2 ** (attempt - 1));
      }
    }
  }

  async getBytes(key: string, allocate?: (byteLength: number) => Uint8Array): Promise<Uint8Array> {
    const { body, contentLength } = await this.getBodyAndLength(key);
    if (contentLength === undefined || !(body instanceof Readable)) return body.transformToByteArray();
    // One buffer of the object's size (the caller's, when it keeps one for the next object), each
    // socket read copied in as it arrives and dropped. The SDK's transformToByteArray holds every
    // read (~64 KB each) until the last, then joins them: two copies of each object at its end,
    // and many medium buffers that outlive young collections and leave holes in glibc's heap once
    // freed (the README's change table).
    const bytes = allocate ? allocate(contentLength) : Buffer.allocUnsafeSlow(contentLength);
    let filled = 0;
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        if (filled + chunk.byteLength > contentLength) throw new Error(`longer than its Content-Length ${contentLength}`);
        bytes.set(chunk, filled);
        filled += chunk.byteLength;
      }
      if (filled !== contentLength) throw new Error(`ended after ${filled} of its ${contentLength} bytes`);
    } catch (error) {
      // A connection dropped half-way is worth another delivery, like a failed GET.
      throw new TotesError(`cannot read s3://${this.bucket}/${key}`, { context: { bucket: this.bucket, key }, retryable: true, cause: error });
    }
    return bytes;
  }

  async getStream(key: string): Promise<Readable> {
    const { body } = await this.getBodyAndLength(key);
    return body instanceof Readable ? body : Readable.from(body as unknown as AsyncIterable<Uint8Array>);
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  private async getBodyAndLength(key: string) {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!response.Body) throw new Error('empty response body');
      return { body: response.Body as Readable & { transformToByteArray(): Promise<Uint8Array> }, contentLength: response.ContentLength };
    } catch (error) {
      if (isMissing(error)) {
        throw new TotesError(`object s3://${this.bucket}/${key} does not exist (deleted before it was processed?)`, {
          context: { bucket: this.bucket, key },
          retryable: false,
          cause: error,
        });
      }
      throw new TotesError(`cannot read s3://${this.bucket}/${key}`, { context: { bucket: this.bucket, key }, retryable: true, cause: error });
    }
  }
}
