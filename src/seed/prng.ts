/**
 * A small seeded pseudo-random generator (mulberry32). Seeding must be reproducible byte for byte
 * across machines and Node versions, which Math.random is not; 32 bits of state are plenty for
 * plausible test data.
 */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new Error('cannot pick from an empty list');
      return item;
    },
  };
}

/**
 * One independent stream per purpose (table), derived from the user's seed, so that generating
 * one table never shifts the values of another and each can be regenerated on its own.
 */
export function streamFor(seed: number, purpose: string): Random {
  let hash = 0x811c9dc5;
  for (const char of purpose) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return mulberry32((seed ^ hash) >>> 0);
}
