import { InvalidArgumentError } from 'commander';

/** Option parsers shared by the commands, so every number is validated once, the same way. */
export function wholeNumber(name: string, minimum = 0) {
  return (raw: string): number => {
    const value = Number(raw.replace(/_/g, ''));
    if (!Number.isSafeInteger(value) || value < minimum) throw new InvalidArgumentError(`${name} must be a whole number ≥ ${minimum}`);
    return value;
  };
}

/** `30s`, `5m`, `1h` or plain seconds. */
export function duration(raw: string): number {
  const match = /^(\d+)(s|m|h)?$/.exec(raw.trim());
  if (!match) throw new InvalidArgumentError('expected a duration such as 30s, 5m or 1h');
  const unit = match[2] === 'h' ? 3600 : match[2] === 'm' ? 60 : 1;
  return Number(match[1]) * unit;
}
