import { code as iso4217 } from 'currency-codes';
import pg from 'pg';

/**
 * The oracle of the reliability suite: what the warehouse must hold, computed straight from the
 * totesys database with SQL of its own — none of the transform's builders, value codecs or
 * version rules — so a bug there cannot hide behind the same bug here.
 *
 * - Facts keep history: every version of a source row that existed when an extract ran must be
 *   in the warehouse exactly once. `observe()` is called before each extract tick to remember
 *   the versions present then, with their values.
 * - Dimensions hold the latest version of each natural key: the source tables as they are now.
 * - `dim_date` must cover every date a fact refers to, with the right calendar attributes.
 *
 * Every row is compared as text cast by PostgreSQL on both sides (numbers through `trim_scale`,
 * so a lost digit shows but a written-out trailing zero does not).
 */

/** A row as PostgreSQL's text of each column, in warehouse column order. */
type TextRow = readonly (string | null)[];

interface FactSpec {
  readonly table: string;
  /** Canonical rows of the source table, in the warehouse's column order. */
  readonly sourceSql: string;
  /** The same columns read back from the warehouse. */
  readonly warehouseSql: string;
  /** Column positions of the fact's date columns, which dim_date must cover. */
  readonly dateColumns: readonly number[];
}

const factSpecs: readonly FactSpec[] = [
  {
    table: 'fact_sales_order',
    sourceSql: `SELECT sales_order_id::text, created_at::date::text, created_at::time::text, last_updated::date::text, last_updated::time::text,
      staff_id::text, counterparty_id::text, units_sold::text, trim_scale(unit_price)::text, currency_id::text, design_id::text,
      agreed_payment_date::date::text, agreed_delivery_date::date::text, agreed_delivery_location_id::text FROM sales_order`,
    warehouseSql: `SELECT sales_order_id::text, created_date::text, created_time::text, last_updated_date::text, last_updated_time::text,
      sales_staff_id::text, counterparty_id::text, units_sold::text, trim_scale(unit_price)::text, currency_id::text, design_id::text,
      agreed_payment_date::text, agreed_delivery_date::text, agreed_delivery_location_id::text FROM fact_sales_order`,
    dateColumns: [1, 3, 11, 12],
  },
  {
    table: 'fact_purchase_order',
    sourceSql: `SELECT purchase_order_id::text, created_at::date::text, created_at::time::text, last_updated::date::text, last_updated::time::text,
      staff_id::text, counterparty_id::text, item_code, item_quantity::text, trim_scale(item_unit_price)::text, currency_id::text,
      agreed_delivery_date::date::text, agreed_payment_date::date::text, agreed_delivery_location_id::text FROM purchase_order`,
    warehouseSql: `SELECT purchase_order_id::text, created_date::text, created_time::text, last_updated_date::text, last_updated_time::text,
      staff_id::text, counterparty_id::text, item_code, item_quantity::text, trim_scale(item_unit_price)::text, currency_id::text,
      agreed_delivery_date::text, agreed_payment_date::text, agreed_delivery_location_id::text FROM fact_purchase_order`,
    dateColumns: [1, 3, 11, 12],
  },
  {
    table: 'fact_payment',
    sourceSql: `SELECT payment_id::text, created_at::date::text, created_at::time::text, last_updated::date::text, last_updated::time::text,
      transaction_id::text, counterparty_id::text, trim_scale(payment_amount)::text, currency_id::text, payment_type_id::text, paid::text,
      payment_date::date::text FROM payment`,
    warehouseSql: `SELECT payment_id::text, created_date::text, created_time::text, last_updated_date::text, last_updated_time::text,
      transaction_id::text, counterparty_id::text, trim_scale(payment_amount)::text, currency_id::text, payment_type_id::text, paid::text,
      payment_date::text FROM fact_payment`,
    dateColumns: [1, 3, 11],
  },
];

interface DimensionSpec {
  readonly table: string;
  readonly sourceSql: string;
  readonly warehouseSql: string;
  /** Columns computed outside SQL (the ISO 4217 name), appended to the source row. */
  readonly complete?: (row: TextRow) => TextRow;
}

const dimensionSpecs: readonly DimensionSpec[] = [
  {
    table: 'dim_staff',
    sourceSql: `SELECT s.staff_id::text, s.first_name, s.last_name, d.department_name, coalesce(d.location, 'Unknown'), s.email_address
      FROM staff s JOIN department d ON d.department_id = s.department_id`,
    warehouseSql: 'SELECT staff_id::text, first_name, last_name, department_name, location, email_address FROM dim_staff',
  },
  {
    table: 'dim_location',
    sourceSql: 'SELECT address_id::text, address_line_1, address_line_2, district, city, postal_code, country, phone FROM address',
    warehouseSql: 'SELECT location_id::text, address_line_1, address_line_2, district, city, postal_code, country, phone FROM dim_location',
  },
  {
    table: 'dim_currency',
    sourceSql: 'SELECT currency_id::text, currency_code FROM currency',
    warehouseSql: 'SELECT currency_id::text, currency_code, currency_name FROM dim_currency',
    complete: (row) => [...row, iso4217(row[1] ?? '')?.currency ?? 'Unknown'],
  },
  {
    table: 'dim_design',
    sourceSql: 'SELECT design_id::text, design_name, file_location, file_name FROM design',
    warehouseSql: 'SELECT design_id::text, design_name, file_location, file_name FROM dim_design',
  },
  {
    table: 'dim_counterparty',
    sourceSql: `SELECT c.counterparty_id::text, c.counterparty_legal_name, a.address_line_1, a.address_line_2, a.district, a.city,
      a.postal_code, a.country, a.phone FROM counterparty c JOIN address a ON a.address_id = c.legal_address_id`,
    warehouseSql: `SELECT counterparty_id::text, counterparty_legal_name, counterparty_legal_address_line_1, counterparty_legal_address_line_2,
      counterparty_legal_district, counterparty_legal_city, counterparty_legal_postal_code, counterparty_legal_country,
      counterparty_legal_phone_number FROM dim_counterparty`,
  },
  {
    table: 'dim_transaction',
    sourceSql: 'SELECT transaction_id::text, transaction_type, sales_order_id::text, purchase_order_id::text FROM "transaction"',
    warehouseSql: 'SELECT transaction_id::text, transaction_type, sales_order_id::text, purchase_order_id::text FROM dim_transaction',
  },
  {
    table: 'dim_payment_type',
    sourceSql: 'SELECT payment_type_id::text, payment_type_name FROM payment_type',
    warehouseSql: 'SELECT payment_type_id::text, payment_type_name FROM dim_payment_type',
  },
];

const dayNames = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const monthNames = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** The dim_date row of a calendar date, by the warehouse spec's conventions (ISO weekday, English names). */
export function expectedDateRow(isoDate: string): TextRow {
  const [year = 0, month = 0, day = 0] = isoDate.split('-').map(Number);
  const weekday = ((new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7) + 1;
  return [isoDate, String(year), String(month), String(day), String(weekday), dayNames[weekday - 1] ?? '', monthNames[month - 1] ?? '', String(Math.ceil(month / 3))];
}

const dimDateSql = 'SELECT date_id::text, year::text, month::text, day::text, day_of_week::text, day_name, month_name, quarter::text FROM dim_date';

export interface Verdict {
  /** Expected rows compared (fact versions, dimension rows, dates). */
  readonly rowsChecked: number;
  /** Expected but missing: `table key`. */
  readonly lost: readonly string[];
  /** Present more than once, or present and not expected at all: `table key ×n`. */
  readonly duplicated: readonly string[];
  /** Present once with other values than the source's: `table key: expected … got …`. */
  readonly mismatched: readonly string[];
}

async function rowsOf(url: string, sql: string): Promise<TextRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<unknown[]>({ text: sql, rowMode: 'array' });
    return result.rows.map((row) => row.map((value) => (value === null ? null : String(value))));
  } finally {
    await client.end();
  }
}

const factKey = (row: TextRow): string => `${row[0]}@${row[3]} ${row[4]}`;
const show = (row: TextRow | undefined): string => JSON.stringify(row?.map((value) => (value && value.length > 80 ? `${value.slice(0, 40)}…(${value.length} chars)` : value)));

/** Compares expected rows with actual ones by key, appending what differs to the verdict lists. */
function compareKeyed(
  table: string,
  expected: ReadonlyMap<string, TextRow>,
  actual: readonly TextRow[],
  keyOf: (row: TextRow) => string,
  out: { lost: string[]; duplicated: string[]; mismatched: string[] },
  allowExtra = false,
): void {
  const seen = new Map<string, TextRow[]>();
  for (const row of actual) {
    const key = keyOf(row);
    seen.set(key, [...(seen.get(key) ?? []), row]);
  }
  for (const [key, row] of expected) {
    const found = seen.get(key) ?? [];
    if (found.length === 0) out.lost.push(`${table} ${key}`);
    else if (found.length > 1) out.duplicated.push(`${table} ${key} ×${found.length}`);
    else if (JSON.stringify(found[0]) !== JSON.stringify(row)) out.mismatched.push(`${table} ${key}: expected ${show(row)} got ${show(found[0])}`);
  }
  if (allowExtra) return;
  for (const [key, rows] of seen) {
    if (!expected.has(key)) out.duplicated.push(`${table} ${key} ×${rows.length} (not in the source)`);
  }
}

export class WarehouseModel {
  /** Per fact table: every observed version, by `id@date time`, with its canonical row. */
  private readonly factVersions = new Map<string, Map<string, TextRow>>(factSpecs.map((spec) => [spec.table, new Map()]));

  constructor(private readonly totesysUrl: string) {}

  /** Remembers the fact versions the source holds now; call it right before an extract runs. */
  async observe(): Promise<void> {
    for (const spec of factSpecs) {
      const versions = this.factVersions.get(spec.table) ?? new Map<string, TextRow>();
      for (const row of await rowsOf(this.totesysUrl, spec.sourceSql)) versions.set(factKey(row), row);
      this.factVersions.set(spec.table, versions);
    }
  }

  /** How many fact versions the model expects, by table. */
  expectedFactCounts(): Record<string, number> {
    return Object.fromEntries([...this.factVersions].map(([table, versions]) => [table, versions.size]));
  }

  /** The warehouse at `warehouseUrl` against the model: nothing lost, nothing twice, nothing else. */
  async check(warehouseUrl: string): Promise<Verdict> {
    const out = { lost: [] as string[], duplicated: [] as string[], mismatched: [] as string[] };
    let rowsChecked = 0;
    const referencedDates = new Set<string>();
    for (const spec of factSpecs) {
      const expected = this.factVersions.get(spec.table) ?? new Map<string, TextRow>();
      for (const row of expected.values()) for (const column of spec.dateColumns) if (row[column]) referencedDates.add(row[column]);
      compareKeyed(spec.table, expected, await rowsOf(warehouseUrl, spec.warehouseSql), factKey, out);
      rowsChecked += expected.size;
    }
    for (const spec of dimensionSpecs) {
      const sourceRows = await rowsOf(this.totesysUrl, spec.sourceSql);
      const expected = new Map(sourceRows.map((row) => [String(row[0]), spec.complete ? spec.complete(row) : row]));
      compareKeyed(spec.table, expected, await rowsOf(warehouseUrl, spec.warehouseSql), (row) => String(row[0]), out);
      rowsChecked += expected.size;
    }
    const expectedDates = new Map([...referencedDates].map((date) => [date, expectedDateRow(date)]));
    compareKeyed('dim_date', expectedDates, await rowsOf(warehouseUrl, dimDateSql), (row) => String(row[0]), out, true);
    rowsChecked += expectedDates.size;
    return { rowsChecked, ...out };
  }
}
