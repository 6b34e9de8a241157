import type { LogFields, Logger } from '../stages/ports';

type Level = 'debug' | 'info' | 'warn' | 'error';
const levelOrder: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Field names whose values must never reach a log line. */
const secretFieldPattern = /password|secret|token|credential|connectionstring|dburl/i;

function redact(fields: LogFields): LogFields {
  const safe: LogFields = {};
  for (const [name, value] of Object.entries(fields)) {
    if (secretFieldPattern.test(name)) safe[name] = '[redacted]';
    else if (value instanceof Error) safe[name] = { name: value.name, message: value.message };
    else safe[name] = value;
  }
  return safe;
}

export interface JsonLoggerOptions {
  readonly level?: Level;
  readonly write?: (line: string) => void;
  readonly base?: LogFields;
}

/** A JSON-lines logger in the shape CloudWatch metric filters match on (`{ $.level = "error" }`). */
export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const threshold = levelOrder[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = options.base ?? {};
  const log = (level: Level, message: string, fields: LogFields = {}) => {
    if (levelOrder[level] < threshold) return;
    write(JSON.stringify({ level, time: new Date().toISOString(), message, ...redact(base), ...redact(fields) }));
  };
  return {
    debug: (message, fields) => log('debug', message, fields),
    info: (message, fields) => log('info', message, fields),
    warn: (message, fields) => log('warn', message, fields),
    error: (message, fields) => log('error', message, fields),
    child: (fields) => createJsonLogger({ ...options, base: { ...base, ...fields } }),
  };
}

/** Drops everything: for tests that do not assert on logs. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
