import pg from 'pg';

/**
 * Type parsers that keep every value whose JS conversion could lose information as the text
 * PostgreSQL sent. A `timestamp` through `Date` drops microseconds and picks up the process time
 * zone; a `numeric` through `number` loses cents; an `int8` beyond 2^53 loses digits.
 */
const exactTextTypeIds = new Set<number>([
  pg.types.builtins.INT8,
  pg.types.builtins.NUMERIC,
  pg.types.builtins.DATE,
  pg.types.builtins.TIME,
  pg.types.builtins.TIMETZ,
  pg.types.builtins.TIMESTAMP,
  pg.types.builtins.TIMESTAMPTZ,
  pg.types.builtins.INTERVAL,
]);

const asText = (value: string): string => value;

/**
 * Per-pool type configuration (not the process-wide `pg.types.setTypeParser`), so a library
 * sharing the process keeps its own parsing.
 */
export const exactTypes: pg.CustomTypesConfig = {
  getTypeParser: (id, format) => (format !== 'binary' && exactTextTypeIds.has(id) ? asText : pg.types.getTypeParser(id, format)),
};
