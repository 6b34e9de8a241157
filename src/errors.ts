export type Stage = 'extract' | 'transform' | 'load' | 'seed' | 'cli' | 'local';

export interface ErrorContext {
  readonly stage?: Stage;
  readonly table?: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly runId?: string;
  readonly line?: number;
  readonly column?: string;
}

/**
 * The one base error of the pipeline. It carries where the failure happened and whether a retry
 * can help, so handlers decide between "fail this message for redelivery" and "this will never
 * work" without parsing messages.
 */
export class TotesError extends Error {
  readonly context: ErrorContext;
  readonly retryable: boolean;

  constructor(message: string, options: { context?: ErrorContext; retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.context = options.context ?? {};
    this.retryable = options.retryable ?? false;
  }
}

/** Input that can never be processed as it is: a bad row, a wrong column set, a corrupt file. */
export class InvalidInputError extends TotesError {
  constructor(message: string, context: ErrorContext, cause?: unknown) {
    super(message, { context, retryable: false, cause });
  }
}

/** Something the input depends on is not there yet (a dimension row); later it may be. */
export class NotYetAvailableError extends TotesError {
  constructor(message: string, context: ErrorContext, cause?: unknown) {
    super(message, { context, retryable: true, cause });
  }
}

/** Renders an error with its cause chain, for logs and CLI output. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth += 1) {
    parts.push(current instanceof Error ? current.message : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': caused by: ');
}
