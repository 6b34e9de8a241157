import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateBucketCommand, HeadObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/aws/clients';
import { S3ObjectStore } from '../../src/aws/s3-object-store';
import { testAwsSettings, uniqueName } from '../support/aws';

let s3: S3Client;
let bucket: string;

beforeEach(async () => {
  s3 = createS3Client(testAwsSettings());
  bucket = uniqueName('objects');
  await s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-2' } }));
});

afterEach(() => {
  s3.destroy();
});

/** Fails the next `count` PUTs with `fault`, after reading some of the body, as a dropped connection would. */
function failPuts(client: S3Client, count: number, fault: () => Error): { attempts: number } {
  const seen = { attempts: 0 };
  let left = count;
  client.middlewareStack.add(
    (next) => async (args) => {
      seen.attempts += 1;
      if (left > 0) {
        left -= 1;
        (args.request as { body?: Readable }).body?.read();
        throw fault();
      }
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'failPuts' },
  );
  return seen;
}

const parts = [Buffer.from('id,name\n1,caf'), Buffer.alloc(0), Buffer.from('é\n2,🎉\n'), Buffer.from('3,x\n')];
const whole = Buffer.concat(parts);

describe('S3ObjectStore.putNew with parts', () => {
  it('writes the parts as one object, sending the CRC32 the SDK computes for the whole body', async () => {
    // prepare: record the checksum header each PUT leaves with
    const sent: Record<string, string | undefined> = {};
    s3.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { method: string; path: string; headers: Record<string, string> };
        if (request.method === 'PUT') sent[request.path.split('/').at(-1) ?? ''] = `${request.headers['x-amz-sdk-checksum-algorithm']} ${request.headers['x-amz-checksum-crc32']}`;
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low', name: 'recordChecksum' },
    );
    const store = new S3ObjectStore(s3, bucket);

    // act
    const result = await store.putNew('address/parts.csv', parts, 'text/csv');
    await store.putNew('address/whole.csv', whole, 'text/csv');

    // assert
    expect(result).toEqual({ created: true });
    expect(Buffer.from(await store.getBytes('address/parts.csv'))).toEqual(whole);
    const stored = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'address/parts.csv' }));
    expect(stored.ContentType).toBe('text/csv');
    expect(sent['parts.csv']).toMatch(/^CRC32 [A-Za-z0-9+/]{6}==$/);
    expect(sent['parts.csv']).toBe(sent['whole.csv']);
  });

  it('never overwrites: an existing key is reported, and keeps its bytes', async () => {
    // prepare
    const store = new S3ObjectStore(s3, bucket);
    await store.putNew('address/a.csv', parts, 'text/csv');

    // act
    const again = await store.putNew('address/a.csv', [Buffer.from('other\n')], 'text/csv');

    // assert
    expect(again).toEqual({ created: false });
    expect(Buffer.from(await store.getBytes('address/a.csv'))).toEqual(whole);
  });

  it('sends the whole object again, from the first byte, after a dropped connection', async () => {
    // prepare: the SDK cannot resend a stream it has read, so the store must
    const faults = failPuts(s3, 1, () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const store = new S3ObjectStore(s3, bucket);

    // act
    const result = await store.putNew('address/a.csv', parts, 'text/csv');

    // assert
    expect(result).toEqual({ created: true });
    expect(faults.attempts).toBe(2);
    expect(Buffer.from(await store.getBytes('address/a.csv'))).toEqual(whole);
  });

  it('gives up after the client\'s maxAttempts, and does not retry a refusal', async () => {
    // prepare
    const dropping = failPuts(s3, 10, () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const store = new S3ObjectStore(s3, bucket);
    const refusingClient = createS3Client(testAwsSettings());
    const refusals = failPuts(refusingClient, 10, () => new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 }, message: 'Access Denied' }));

    // act
    const dropped = await store.putNew('address/a.csv', parts, 'text/csv').catch((error: unknown) => error);
    const refused = await new S3ObjectStore(refusingClient, bucket).putNew('address/b.csv', parts, 'text/csv').catch((error: unknown) => error);

    // assert
    expect(dropped).toMatchObject({ message: `cannot write s3://${bucket}/address/a.csv` });
    expect(refused).toMatchObject({ message: `cannot write s3://${bucket}/address/b.csv` });
    expect(dropping.attempts).toBe(await s3.config.maxAttempts());
    expect(refusals.attempts).toBe(1);
    refusingClient.destroy();
  });
});

describe('S3ObjectStore.getBytes', () => {
  it('reads an object of many socket reads into one buffer of exactly its bytes', async () => {
    // prepare: 3 MB of random bytes, far more than one socket read
    const store = new S3ObjectStore(s3, bucket);
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    await store.putNew('fact_sales_order/a.parquet', bytes, 'application/vnd.apache.parquet');

    // act
    const read = await store.getBytes('fact_sales_order/a.parquet');

    // assert
    expect(read.byteLength).toBe(bytes.byteLength);
    expect(Buffer.from(read.buffer, read.byteOffset, read.byteLength).equals(bytes)).toBe(true);
  });

  it('reads into the memory the caller allocates, asking for exactly the object’s size', async () => {
    // prepare: the caller's memory is larger, and full of an earlier object's bytes
    const store = new S3ObjectStore(s3, bucket);
    const bytes = randomBytes(1024 * 1024 + 5);
    await store.putNew('fact_sales_order/b.parquet', bytes, 'application/vnd.apache.parquet');
    const memory = new Uint8Array(2 * 1024 * 1024).fill(0xee);
    const asked: number[] = [];

    // act
    const read = await store.getBytes('fact_sales_order/b.parquet', (byteLength) => {
      asked.push(byteLength);
      return memory.subarray(0, byteLength);
    });

    // assert
    expect(asked).toEqual([bytes.byteLength]);
    expect(read.buffer).toBe(memory.buffer);
    expect(Buffer.from(read.buffer, read.byteOffset, read.byteLength).equals(bytes)).toBe(true);
    expect(memory[bytes.byteLength]).toBe(0xee);
  });

  it('names the object, as worth another delivery, when the connection drops half-way through it', async () => {
    // prepare: the body stream fails after its first read
    const store = new S3ObjectStore(s3, bucket);
    await store.putNew('fact_sales_order/a.parquet', randomBytes(1024 * 1024), 'application/vnd.apache.parquet');
    s3.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const output = result.output as { Body?: AsyncIterable<Uint8Array> };
        const real = output.Body;
        if (real) {
          output.Body = Readable.from((async function* () {
            for await (const chunk of real) {
              yield chunk;
              throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
            }
          })());
        }
        return result;
      },
      { step: 'initialize', name: 'dropBody' },
    );

    // act
    const failure = await store.getBytes('fact_sales_order/a.parquet').catch((error: unknown) => error);

    // assert
    expect(failure).toMatchObject({ message: `cannot read s3://${bucket}/fact_sales_order/a.parquet`, retryable: true });
  });

  it('names the object when it does not exist', async () => {
    await expect(new S3ObjectStore(s3, bucket).getBytes('fact_sales_order/gone.parquet')).rejects.toThrow(`object s3://${bucket}/fact_sales_order/gone.parquet does not exist`);
  });
});
