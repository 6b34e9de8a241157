/**
 * Builds a value on first use and keeps it for the life of the Lambda container, so warm
 * invocations reuse clients and pools. A failed build is not kept: the next invocation retries.
 */
export function onFirstUse<T>(build: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= build().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
