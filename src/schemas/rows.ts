/**
 * How values travel in memory between stages, per column kind. One representation everywhere
 * (after CSV validation, into Parquet, out of Parquet, into COPY), chosen so nothing is lossy:
 *
 * | kind      | value                                               |
 * |-----------|-----------------------------------------------------|
 * | int       | number (safe 32-bit integer)                        |
 * | text      | string                                              |
 * | decimal   | string, canonical with exactly `scale` digits: "19.99", "-0.50" |
 * | timestamp | string `YYYY-MM-DD HH:MM:SS.ffffff` (normalised)    |
 * | dateText  | string `YYYY-MM-DD` (validated calendar date)       |
 * | date      | string `YYYY-MM-DD`                                 |
 * | time      | string `HH:MM:SS.ffffff`                            |
 * | boolean   | boolean                                             |
 *
 * and `null` for SQL NULL in a nullable column.
 */
export type CellValue = string | number | boolean | null;
export type Row = Record<string, CellValue>;
