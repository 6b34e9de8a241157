import type { Readable } from 'node:stream';

/**
 * The small interfaces stages take their I/O through. AWS and PostgreSQL implementations live in
 * src/aws and src/db; tests pass in-memory fakes.
 */

export interface PutResult {
  /** False when the key already existed: objects are written once, a repeat is "already done". */
  readonly created: boolean;
}

/** An object's bytes: whole, streamed, or in parts that follow one another (the extract's chunks). */
export type ObjectBody = Readable | Uint8Array | string | readonly Uint8Array[];

/** Whether a body is given in parts (`Array.isArray` alone does not narrow a readonly array). */
export function isBodyInParts(body: ObjectBody): body is readonly Uint8Array[] {
  return Array.isArray(body);
}

export interface ObjectStore {
  /** Writes a new object. Never overwrites: an existing key returns `{ created: false }`. */
  putNew(key: string, body: ObjectBody, contentType: string): Promise<PutResult>;
  /**
   * Reads a whole object. Throws a NotFound-flavoured TotesError when it is missing. `allocate`,
   * when given, supplies the memory to read into (exactly `byteLength` bytes); a store that
   * cannot know the size first may return other memory.
   */
  getBytes(key: string, allocate?: (byteLength: number) => Uint8Array): Promise<Uint8Array>;
  /** Streams an object, for inputs too large to hold in memory. */
  getStream(key: string): Promise<Readable>;
  /** Lists keys under a prefix. */
  list(prefix: string): Promise<string[]>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export type LogFields = Record<string, unknown>;

/** Structured logger: one JSON line per event, so metric filters and alarms can match fields. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}
