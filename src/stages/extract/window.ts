import { normaliseSourceTimestamp } from '../../schemas/keys';
import type { RowVersion } from './ports';

/**
 * `timestamp` minus whole seconds, as normalised source text. Only the whole-second part goes
 * through Date arithmetic (in UTC, so no time zone or DST can shift it); the microsecond fraction
 * is carried over verbatim, so nothing is rounded.
 */
export function secondsBefore(timestamp: string, seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`window must be a whole number of seconds, got ${seconds}`);
  const normalised = normaliseSourceTimestamp(timestamp);
  const fraction = normalised.slice(20);
  const wholeSeconds = Date.parse(`${normalised.slice(0, 10)}T${normalised.slice(11, 19)}Z`);
  const shifted = new Date(wholeSeconds - seconds * 1000).toISOString();
  return `${shifted.slice(0, 10)} ${shifted.slice(11, 19)}.${fraction}`;
}

/** The later of two normalised timestamps (they compare correctly as strings). */
export function laterOf(a: string | null, b: string): string {
  return a !== null && a > b ? a : b;
}

/**
 * The versions the next extract must exclude: everything already extracted after `windowStart`,
 * newest first, at most `limit`. Past the limit the oldest are dropped; that costs only re-reads
 * of those versions, which load absorbs (facts insert with ON CONFLICT DO NOTHING, dimensions
 * keep the newest version), never a lost row.
 */
export function versionsToRemember(
  previous: readonly RowVersion[],
  extracted: readonly RowVersion[],
  windowStart: string,
  limit: number,
): RowVersion[] {
  const byKey = new Map<string, RowVersion>();
  for (const version of [...previous, ...extracted]) {
    if (version.lastUpdated > windowStart) byKey.set(`${version.id}@${version.lastUpdated}`, version);
  }
  return [...byKey.values()]
    .sort((a, b) => (a.lastUpdated === b.lastUpdated ? b.id - a.id : a.lastUpdated < b.lastUpdated ? 1 : -1))
    .slice(0, limit);
}
