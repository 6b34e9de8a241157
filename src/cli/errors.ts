import { TotesError, describeError } from '../errors';

/** An operator mistake (bad option, unknown table): exit code 2, with a hint. */
export class UsageError extends TotesError {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message, { context: { stage: 'cli' } });
  }
}

/** The pipeline ran but did not finish clean (something in a DLQ, a table failed): exit code 1. */
export class IncompleteRunError extends TotesError {
  constructor(message: string) {
    super(message, { context: { stage: 'cli' } });
  }
}

/** The one place that turns an error into a message, a hint and an exit code. */
export function reportCliError(error: unknown, write: (text: string) => void = (text) => process.stderr.write(text)): number {
  if (error instanceof UsageError) {
    write(`error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
    return 2;
  }
  if (error instanceof IncompleteRunError) {
    write(`${error.message}\n`);
    return 1;
  }
  write(`error: ${describeError(error)}\n`);
  const hint = hintFor(error);
  if (hint) write(`hint: ${hint}\n`);
  return 1;
}

function hintFor(error: unknown): string | undefined {
  const text = describeError(error);
  if (/ECONNREFUSED.*5432|connect ECONNREFUSED/.test(text)) return 'is PostgreSQL running? Check TOTESYS_DB_URL / WAREHOUSE_DB_URL, or unset them to use the embedded database.';
  if (/moto_server/.test(text)) return 'install the AWS emulator with: pip install "moto[server]"';
  if (/credentials|ExpiredToken|UnrecognizedClient/i.test(text)) return 'check your AWS credentials (AWS_PROFILE) or set AWS_ENDPOINT_URL for a local emulator.';
  return undefined;
}
