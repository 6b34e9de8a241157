import { Readable } from 'node:stream';
import type { S3Client} from '@aws-sdk/client-s3';
import { GetObjectCommand, ListObjectsV2Command, NoSuchKey, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { TotesError } from '../errors';
import type { ObjectStore, PutResult } from '../stages/ports';

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

function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || (error instanceof S3ServiceException && (error.name === 'NoSuchKey' || error.$metadata?.httpStatusCode === 404));
}

/** An ObjectStore over one S3 bucket. Writes are create-only (`If-None-Match: *`). */
export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async putNew(key: string, body: Readable | Uint8Array | string, contentType: string): Promise<PutResult> {
    try {
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

  async getBytes(key: string): Promise<Uint8Array> {
    const body = await this.getBody(key);
    return body.transformToByteArray();
  }

  async getStream(key: string): Promise<Readable> {
    const body = await this.getBody(key);
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

  private async getBody(key: string) {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!response.Body) throw new Error('empty response body');
      return response.Body as Readable & { transformToByteArray(): Promise<Uint8Array> };
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
