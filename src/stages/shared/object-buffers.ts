/**
 * Memory for whole objects, kept from one object to the next: the load reads each Parquet
 * object whole (its column chunks are decoded in place), one buffer per object in flight.
 *
 * Why: a new buffer per object (1–2 MB at 1,000,000 sales orders) lives through the object's
 * transaction, so V8 promotes it and only a full collection frees it. A load process reads ~45
 * objects at that scale against four or five at 100,000, so the garbage waiting for a collection
 * grew with the run's length (README, Performance). With kept buffers, that memory is as large as
 * the objects in flight; the price is that a process keeps its largest objects' worth (one per
 * object in flight, of at most 100,000 rows; the load has one in flight) for its life.
 */
export class ObjectBuffers {
  private readonly idle: ArrayBuffer[] = [];
  /** Only buffers made here are kept: a view handed in from elsewhere may share its buffer. */
  private readonly made = new WeakSet<ArrayBuffer>();

  /**
   * @param keepAtMost idle buffers kept; the smallest beyond that is left to the garbage collector
   * @param roundTo a new buffer's size is rounded up to a multiple of this, so the next, slightly
   *   larger object still fits
   */
  constructor(
    private readonly keepAtMost: number,
    private readonly roundTo = 256 * 1024,
  ) {
    if (!Number.isInteger(keepAtMost) || keepAtMost < 0) throw new Error(`keepAtMost must be a whole number >= 0, got ${keepAtMost}`);
    if (!Number.isInteger(roundTo) || roundTo < 1) throw new Error(`roundTo must be a whole number >= 1, got ${roundTo}`);
  }

  /** `byteLength` bytes over the smallest idle buffer that holds them, or over a new one. Their contents are whatever the buffer last held. */
  take(byteLength: number): Uint8Array {
    let best = -1;
    for (let index = 0; index < this.idle.length; index += 1) {
      const size = this.idle[index]!.byteLength;
      if (size >= byteLength && (best < 0 || size < this.idle[best]!.byteLength)) best = index;
    }
    if (best >= 0) return new Uint8Array(this.idle.splice(best, 1)[0]!, 0, byteLength);
    const buffer = new ArrayBuffer(Math.max(this.roundTo, Math.ceil(byteLength / this.roundTo) * this.roundTo));
    this.made.add(buffer);
    return new Uint8Array(buffer, 0, byteLength);
  }

  /** Hands back bytes from `take`: nothing may read them after. Anything else, or a second call, is ignored. */
  give(bytes: Uint8Array): void {
    const { buffer } = bytes;
    if (!(buffer instanceof ArrayBuffer) || !this.made.has(buffer) || this.idle.includes(buffer)) return;
    this.idle.push(buffer);
    if (this.idle.length > this.keepAtMost) {
      const smallest = this.idle.reduce((best, candidate, index) => (candidate.byteLength < this.idle[best]!.byteLength ? index : best), 0);
      this.idle.splice(smallest, 1);
    }
  }

  /** Idle buffers' sizes, for tests. */
  get idleSizes(): number[] {
    return this.idle.map((buffer) => buffer.byteLength);
  }
}
