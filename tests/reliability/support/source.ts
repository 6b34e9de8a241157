import { quoteIdent } from '../../../src/schemas/columns';
import { sql } from './stack';

/**
 * Changes to the totesys database as its application would make them: every write stamps
 * `last_updated` from a clock that only moves forward (in 2031, after every seeded row, with
 * milliseconds so the warehouse's time precision is exercised).
 */
export class SourceEditor {
  private tick = 0;

  constructor(
    private readonly url: string,
    private readonly base = Date.UTC(2031, 0, 1),
  ) {}

  /** The next `last_updated`: strictly after every earlier one. */
  nextStamp(): string {
    this.tick += 1;
    return new Date(this.base + this.tick * 1_001 + 7).toISOString().replace('T', ' ').replace('Z', '');
  }

  /** A new sales order, a copy of an existing one's references with its own values. */
  async insertSalesOrder(unitsSold: number): Promise<number> {
    const stamp = this.nextStamp();
    const [row] = await sql<{ id: number }>(
      this.url,
      `INSERT INTO sales_order (created_at, last_updated, design_id, staff_id, counterparty_id, units_sold, unit_price, currency_id,
         agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id)
       SELECT $1, $1, design_id, staff_id, counterparty_id, $2, 12.34, currency_id, agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id
       FROM sales_order ORDER BY sales_order_id LIMIT 1
       RETURNING sales_order_id AS id`,
      [stamp, unitsSold],
    );
    if (!row) throw new Error('no sales order to copy');
    return row.id;
  }

  /** Updates one row's columns and stamps a new version. Table and column names come from the test itself. */
  async update(table: string, id: number, values: Record<string, unknown>, stamp = this.nextStamp()): Promise<string> {
    const columns = Object.keys(values);
    const assignments = columns.map((column, index) => `${quoteIdent(column)} = $${index + 3}`);
    await sql(
      this.url,
      `UPDATE ${quoteIdent(table)} SET last_updated = $2${assignments.length ? ', ' : ''}${assignments.join(', ')} WHERE ${quoteIdent(`${table}_id`)} = $1`,
      [id, stamp, ...columns.map((column) => values[column])],
    );
    return stamp;
  }

  /** The ids of a table, ascending. */
  async ids(table: string): Promise<number[]> {
    const rows = await sql<{ id: number }>(this.url, `SELECT ${quoteIdent(`${table}_id`)} AS id FROM ${quoteIdent(table)} ORDER BY 1`);
    return rows.map((row) => row.id);
  }
}
