/**
 * Which PostgreSQL failures a retry can cure. The load translates pg errors at this edge, so the
 * handler decides between redelivery and the DLQ from `TotesError.retryable` alone.
 */

/** SQLSTATE classes and codes that describe the moment, not the input. */
const transientSqlStatePrefixes = ['08', '53', '57P'];
const transientSqlStates = new Set(['40001', '40P01', '55P03', '55006']);
const transientNodeCodes = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function pgErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function isTransientPgError(error: unknown): boolean {
  const code = pgErrorCode(error);
  if (code !== undefined) {
    if (transientSqlStates.has(code) || transientNodeCodes.has(code)) return true;
    if (transientSqlStatePrefixes.some((prefix) => code.startsWith(prefix))) return true;
  }
  // node-postgres reports a dropped socket as a plain Error without a code.
  return error instanceof Error && /Connection terminated|Client has encountered a connection error|timeout exceeded/i.test(error.message);
}
