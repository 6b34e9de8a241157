import { Readable } from 'node:stream';
import { TotesError } from '../../src/errors';
import { type ObjectBody, type ObjectStore, type PutResult, isBodyInParts } from '../../src/stages/ports';

/** An in-memory ObjectStore with S3's create-only semantics, for unit tests of stages. */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();

  async putNew(key: string, body: ObjectBody): Promise<PutResult> {
    if (this.objects.has(key)) return { created: false };
    let bytes: Uint8Array;
    if (typeof body === 'string') bytes = Buffer.from(body);
    else if (body instanceof Uint8Array) bytes = body;
    // Copied: the extract hands its chunk memory back once the write returns.
    else if (isBodyInParts(body)) bytes = Buffer.concat(body);
    else {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
      bytes = Buffer.concat(chunks);
    }
    this.objects.set(key, bytes);
    return { created: true };
  }

  async getBytes(key: string, allocate?: (byteLength: number) => Uint8Array): Promise<Uint8Array> {
    const bytes = this.objects.get(key);
    if (!bytes) throw new TotesError(`object ${key} does not exist`, { context: { key } });
    if (!allocate) return bytes;
    // Copied into the caller's memory, as S3ObjectStore reads into it.
    const into = allocate(bytes.byteLength);
    into.set(bytes);
    return into;
  }

  async getStream(key: string): Promise<Readable> {
    return Readable.from([await this.getBytes(key)]);
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }

  text(key: string): string {
    return Buffer.from(this.objects.get(key) ?? new Uint8Array()).toString('utf8');
  }
}
