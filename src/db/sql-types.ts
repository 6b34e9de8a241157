import type { ColumnDef } from '../schemas/columns';

/**
 * The PostgreSQL type of a column, for both databases' DDL: the totesys source (seeded locally)
 * and the warehouse. One mapping, so a column kind means the same SQL type everywhere.
 */
export function columnSqlType(column: ColumnDef): string {
  const type = column.type;
  switch (type.kind) {
    case 'int':
      return 'integer';
    case 'identity':
      return 'integer GENERATED ALWAYS AS IDENTITY';
    case 'text':
      return type.maxLength === undefined ? 'varchar' : `varchar(${type.maxLength})`;
    case 'decimal':
      return type.precision === undefined ? 'numeric' : `numeric(${type.precision},${type.scale})`;
    case 'timestamp':
      // Without time zone, at microsecond precision: totesys stores milliseconds, and the
      // pipeline keeps whatever precision it is given.
      return 'timestamp';
    case 'dateText':
      return 'varchar';
    case 'date':
      return 'date';
    case 'time':
      return 'time(6)';
    case 'boolean':
      return 'boolean';
  }
}
