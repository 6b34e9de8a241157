import { qualified, defaultWarehouseSchemaNames, type WarehouseSchemaNames } from '../db/warehouse-ddl';
import type { WarehouseTableName } from '../schemas/warehouse';
import type { WarehouseReader } from './warehouse-reader';

/**
 * The business view of the star schema. Money is summed in SQL as `numeric` and travels as its
 * exact decimal text: the browser only turns it into a float to draw a bar.
 *
 * fact_sales_order keeps every observed version of an order, so every figure except the order
 * history counts only each order's newest version (latest last_updated) — an order amended
 * twice is still one order.
 */

export interface RevenueByMonthRow {
  /** `YYYY-MM` of the order's created_date. */
  readonly month: string;
  readonly currency: string;
  /** Exact decimal text of sum(units_sold * unit_price). */
  readonly revenue: string;
  readonly orders: number;
  readonly units: number;
}

export interface RevenueByMonth {
  readonly months: readonly RevenueByMonthRow[];
  readonly totals: readonly Omit<RevenueByMonthRow, 'month'>[];
}

export interface DesignUnitsRow {
  readonly designId: number;
  readonly designName: string | null;
  readonly units: number;
  readonly orders: number;
}

export interface LocationSalesRow {
  readonly country: string | null;
  /** Present when grouped by city. */
  readonly city?: string | null;
  readonly orders: number;
  readonly units: number;
}

export interface StaffRevenueRow {
  readonly staffId: number;
  readonly name: string | null;
  readonly department: string | null;
  readonly currency: string;
  readonly revenue: string;
  readonly orders: number;
}

export interface OrderVersionRow {
  readonly salesRecordId: number;
  readonly salesOrderId: number;
  readonly lastUpdated: string;
  readonly created: string;
  readonly staff: string | null;
  readonly counterparty: string | null;
  readonly design: string | null;
  readonly unitsSold: number;
  readonly unitPrice: string;
  readonly currency: string | null;
  readonly agreedPaymentDate: string;
  readonly agreedDeliveryDate: string;
  readonly deliveryCity: string | null;
  readonly deliveryCountry: string | null;
}

export interface SalesSummary {
  readonly orders: number;
  readonly versions: number;
  readonly units: number;
  readonly currencies: readonly string[];
}

export type LocationGrouping = 'country' | 'city';

export class BusinessQueries {
  constructor(
    private readonly reader: WarehouseReader,
    private readonly names: WarehouseSchemaNames = defaultWarehouseSchemaNames,
  ) {}

  private table(name: WarehouseTableName): string {
    return qualified(this.names.schema, name);
  }

  /** The newest version of each sales order, as a CTE every figure starts from. */
  private currentSales(): string {
    return `WITH current_sales AS (
      SELECT DISTINCT ON (sales_order_id) *
        FROM ${this.table('fact_sales_order')}
       ORDER BY sales_order_id, last_updated_date DESC, last_updated_time DESC
    )`;
  }

  async summary(): Promise<SalesSummary> {
    const [row] = await this.reader.query<{ orders: string; versions: string; units: string | null }>(
      `${this.currentSales()}
       SELECT (SELECT count(*) FROM current_sales)::text AS orders,
              (SELECT count(*) FROM ${this.table('fact_sales_order')})::text AS versions,
              (SELECT sum(units_sold) FROM current_sales)::text AS units`,
    );
    const currencies = await this.reader.query<{ currency_code: string }>(
      `${this.currentSales()}
       SELECT DISTINCT c.currency_code FROM current_sales s JOIN ${this.table('dim_currency')} c USING (currency_id) ORDER BY c.currency_code`,
    );
    return {
      orders: Number(row?.orders ?? 0),
      versions: Number(row?.versions ?? 0),
      units: Number(row?.units ?? 0),
      currencies: currencies.map((currency) => currency.currency_code),
    };
  }

  /** Revenue per month of created_date and currency, with each currency's total over all months. */
  async revenueByMonth(): Promise<RevenueByMonth> {
    const rows = await this.reader.query<{ month: string | null; currency: string; revenue: string; orders: string; units: string }>(
      `${this.currentSales()}
       SELECT to_char(s.created_date, 'YYYY-MM') AS month,
              c.currency_code AS currency,
              sum(s.units_sold * s.unit_price)::text AS revenue,
              count(*)::text AS orders,
              sum(s.units_sold)::text AS units
         FROM current_sales s
         JOIN ${this.table('dim_currency')} c USING (currency_id)
        GROUP BY GROUPING SETS ((1, 2), (2))
        ORDER BY 1 NULLS LAST, 2`,
    );
    const toRow = (row: (typeof rows)[number]) => ({ currency: row.currency, revenue: row.revenue, orders: Number(row.orders), units: Number(row.units) });
    return {
      months: rows.filter((row) => row.month !== null).map((row) => ({ month: row.month ?? '', ...toRow(row) })),
      // The grouping set without the month: each currency's total, summed by PostgreSQL too.
      totals: rows.filter((row) => row.month === null).map(toRow),
    };
  }

  async topDesigns(limit = 10): Promise<DesignUnitsRow[]> {
    const rows = await this.reader.query<{ design_id: number; design_name: string | null; units: string; orders: string }>(
      `${this.currentSales()}
       SELECT s.design_id, d.design_name, sum(s.units_sold)::text AS units, count(*)::text AS orders
         FROM current_sales s
         LEFT JOIN ${this.table('dim_design')} d USING (design_id)
        GROUP BY s.design_id, d.design_name
        ORDER BY sum(s.units_sold) DESC, s.design_id
        LIMIT $1`,
      [limit],
    );
    return rows.map((row) => ({ designId: row.design_id, designName: row.design_name, units: Number(row.units), orders: Number(row.orders) }));
  }

  /** Sales by the agreed delivery location (dim_location via agreed_delivery_location_id). */
  async salesByLocation(grouping: LocationGrouping): Promise<LocationSalesRow[]> {
    const byCity = grouping === 'city';
    const rows = await this.reader.query<{ country: string | null; city?: string | null; orders: string; units: string }>(
      `${this.currentSales()}
       SELECT l.country${byCity ? ', l.city' : ''}, count(*)::text AS orders, sum(s.units_sold)::text AS units
         FROM current_sales s
         LEFT JOIN ${this.table('dim_location')} l ON l.location_id = s.agreed_delivery_location_id
        GROUP BY l.country${byCity ? ', l.city' : ''}
        ORDER BY sum(s.units_sold) DESC, l.country${byCity ? ', l.city' : ''}`,
    );
    return rows.map((row) => ({ country: row.country, ...(byCity ? { city: row.city ?? null } : {}), orders: Number(row.orders), units: Number(row.units) }));
  }

  /** Staff ranked by revenue in one currency: amounts in different currencies do not add up. */
  async topStaff(currency: string, limit = 10): Promise<StaffRevenueRow[]> {
    const rows = await this.reader.query<{ staff_id: number; name: string | null; department: string | null; currency: string; revenue: string; orders: string }>(
      `${this.currentSales()}
       SELECT s.sales_staff_id AS staff_id,
              st.first_name || ' ' || st.last_name AS name,
              st.department_name AS department,
              c.currency_code AS currency,
              sum(s.units_sold * s.unit_price)::text AS revenue,
              count(*)::text AS orders
         FROM current_sales s
         JOIN ${this.table('dim_currency')} c USING (currency_id)
         LEFT JOIN ${this.table('dim_staff')} st ON st.staff_id = s.sales_staff_id
        WHERE c.currency_code = $1
        GROUP BY s.sales_staff_id, st.first_name, st.last_name, st.department_name, c.currency_code
        ORDER BY sum(s.units_sold * s.unit_price) DESC, s.sales_staff_id
        LIMIT $2`,
      [currency, limit],
    );
    return rows.map((row) => ({ staffId: row.staff_id, name: row.name, department: row.department, currency: row.currency, revenue: row.revenue, orders: Number(row.orders) }));
  }

  /** Every version of one sales order, oldest first: how it changed over time. */
  async orderHistory(salesOrderId: number): Promise<OrderVersionRow[]> {
    const rows = await this.reader.query<{
      sales_record_id: number; sales_order_id: number; last_updated: string; created: string; staff: string | null; counterparty: string | null;
      design: string | null; units_sold: number; unit_price: string; currency: string | null; agreed_payment_date: string; agreed_delivery_date: string;
      city: string | null; country: string | null;
    }>(
      `SELECT f.sales_record_id, f.sales_order_id,
              f.last_updated_date::text || ' ' || f.last_updated_time::text AS last_updated,
              f.created_date::text || ' ' || f.created_time::text AS created,
              st.first_name || ' ' || st.last_name AS staff,
              cp.counterparty_legal_name AS counterparty,
              d.design_name AS design,
              f.units_sold, f.unit_price::text AS unit_price, c.currency_code AS currency,
              f.agreed_payment_date::text AS agreed_payment_date, f.agreed_delivery_date::text AS agreed_delivery_date,
              l.city, l.country
         FROM ${this.table('fact_sales_order')} f
         LEFT JOIN ${this.table('dim_staff')} st ON st.staff_id = f.sales_staff_id
         LEFT JOIN ${this.table('dim_counterparty')} cp ON cp.counterparty_id = f.counterparty_id
         LEFT JOIN ${this.table('dim_design')} d ON d.design_id = f.design_id
         LEFT JOIN ${this.table('dim_currency')} c ON c.currency_id = f.currency_id
         LEFT JOIN ${this.table('dim_location')} l ON l.location_id = f.agreed_delivery_location_id
        WHERE f.sales_order_id = $1
        ORDER BY f.last_updated_date, f.last_updated_time, f.sales_record_id`,
      [salesOrderId],
    );
    return rows.map((row) => ({
      salesRecordId: row.sales_record_id,
      salesOrderId: row.sales_order_id,
      lastUpdated: row.last_updated,
      created: row.created,
      staff: row.staff,
      counterparty: row.counterparty,
      design: row.design,
      unitsSold: row.units_sold,
      unitPrice: row.unit_price,
      currency: row.currency,
      agreedPaymentDate: row.agreed_payment_date,
      agreedDeliveryDate: row.agreed_delivery_date,
      deliveryCity: row.city,
      deliveryCountry: row.country,
    }));
  }
}
