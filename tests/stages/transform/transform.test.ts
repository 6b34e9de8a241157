import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/errors';
import { parseProcessedKey } from '../../../src/schemas/keys';
import { sourceTable } from '../../../src/schemas/source';
import { SOURCE_VERSION_COLUMN, warehouseTableNames } from '../../../src/schemas/warehouse';
import { transformObject, type TransformReport } from '../../../src/stages/transform';
import type { MemoryObjectStore } from '../../support/memory-object-store';
import {
  DuckReader, MemoryStateStore, createTransformFixture, duckTime, realRows, toPgCsv, updateFiles,
  type JsonRow, type TransformFixture,
} from './fixtures';

let duck: DuckReader;
beforeAll(async () => {
  duck = await DuckReader.create();
});
afterAll(async () => {
  await duck.close();
});

const snapshot = (table: string) => realRows(`totesys-snapshot-2024-05/${table}.json`);
const normalised = (timestamp: string) => `${timestamp.slice(0, 19)}.${(timestamp.slice(20) || '').padEnd(6, '0')}`;

/** The tables the snapshot lacks, with the 4 real payment types and rows shaped like the spec's. */
const paymentTypes: JsonRow[] = ['SALES_RECEIPT', 'SALES_REFUND', 'PURCHASE_PAYMENT', 'PURCHASE_REFUND'].map((name, index) => ({
  payment_type_id: index + 1, payment_type_name: name, created_at: '2022-11-03 14:20:49.962', last_updated: '2022-11-03 14:20:49.962',
}));
const purchaseOrders: JsonRow[] = [
  { purchase_order_id: 1, created_at: '2022-11-03 14:20:52.187', last_updated: '2022-11-03 14:20:52.187', staff_id: 12, counterparty_id: 11, item_code: 'ZDOI5EA', item_quantity: 371, item_unit_price: '19.99', currency_id: 1, agreed_delivery_date: '2022-11-09', agreed_payment_date: '2022-11-07', agreed_delivery_location_id: 6 },
  { purchase_order_id: 2, created_at: '2022-11-03 14:20:52.186', last_updated: '2024-02-29 23:59:59.999999', staff_id: 20, counterparty_id: 17, item_code: 'QLZLEXR', item_quantity: 286, item_unit_price: '199.04', currency_id: 2, agreed_delivery_date: '2022-11-04', agreed_payment_date: '2022-11-07', agreed_delivery_location_id: 8 },
];
const transactions: JsonRow[] = [
  { transaction_id: 1, transaction_type: 'PURCHASE', sales_order_id: null, purchase_order_id: 2, created_at: '2022-11-03 14:20:52.186', last_updated: '2022-11-03 14:20:52.186' },
  { transaction_id: 2, transaction_type: 'SALE', sales_order_id: 2, purchase_order_id: null, created_at: '2022-11-03 14:20:52.187', last_updated: '2022-11-03 14:20:52.187' },
];
const payments: JsonRow[] = [
  { payment_id: 2, created_at: '2022-11-03 14:20:52.187', last_updated: '2022-11-03 14:20:52.187', transaction_id: 2, counterparty_id: 15, payment_amount: '552548.62', currency_id: 2, payment_type_id: 3, paid: false, payment_date: '2022-11-04', company_ac_number: 67305075, counterparty_ac_number: 31622269 },
  { payment_id: 3, created_at: '2022-11-03 14:20:52.186', last_updated: '2022-11-03 14:20:52.186', transaction_id: 1, counterparty_id: 18, payment_amount: '0.01', currency_id: 3, payment_type_id: 1, paid: true, payment_date: '2022-11-03', company_ac_number: 81718079, counterparty_ac_number: 47839086 },
];

async function transformAll(fixture: TransformFixture, files: Array<[string, JsonRow[]]>): Promise<TransformReport[]> {
  const reports: TransformReport[] = [];
  for (const [table, rows] of files) reports.push(await transformObject({ key: await fixture.putCsv(table, rows) }, fixture.deps));
  return reports;
}

function outputKey(reports: TransformReport[], table: string): string {
  const output = reports.flatMap((report) => report.outputs).find((candidate) => candidate.table === table);
  if (!output) throw new Error(`no ${table} output`);
  return output.key;
}

/** "Latest version wins by _source_version" over every dimension file written, as the load applies it. */
async function foldDimensions(fixture: TransformFixture): Promise<Record<string, Record<string, Record<string, unknown>>>> {
  const latest: Record<string, Record<string, Record<string, unknown>>> = {};
  for (const key of await fixture.processed.list('dim_')) {
    const table = parseProcessedKey(key)?.warehouseTable ?? '';
    if (table === 'dim_date') continue;
    const byId = (latest[table] ??= {});
    for (const row of await duck.rows(await fixture.processed.getBytes(key))) {
      const id = String(Object.values(row)[0]);
      const held = byId[id];
      if (!held || (held[SOURCE_VERSION_COLUMN] as string) < (row[SOURCE_VERSION_COLUMN] as string)) byId[id] = row;
    }
  }
  return latest;
}

/** Latest version of every row across extraction files, by last_updated: what the source now holds. */
function latestSourceRows(files: Array<[string, JsonRow[]]>, idColumn: string): Map<number, JsonRow> {
  const latest = new Map<number, JsonRow>();
  for (const [, rows] of files) {
    for (const row of rows) {
      const held = latest.get(row[idColumn] as number);
      if (!held || (held.last_updated as string) <= (row.last_updated as string)) latest.set(row[idColumn] as number, row);
    }
  }
  return latest;
}

describe('transformObject on the real May 2024 snapshot', () => {
  const fixture = createTransformFixture();
  let reports: TransformReport[];

  beforeAll(async () => {
    reports = await transformAll(fixture, [
      ...['address', 'counterparty', 'currency', 'department', 'design', 'staff', 'sales_order'].map((table) => [table, snapshot(table)] as [string, JsonRow[]]),
      ['purchase_order', purchaseOrders], ['payment_type', paymentTypes], ['transaction', transactions], ['payment', payments],
    ]);
  });

  it('builds all 11 warehouse tables, dimensions before facts', () => {
    const tables = reports.flatMap((report) => report.outputs.map((output) => output.table));

    expect(new Set(tables)).toEqual(new Set(warehouseTableNames));
    expect(reports.flatMap((report) => report.outputs).every((output) => output.created)).toBe(true);
    expect(reports.find((report) => report.key.startsWith('sales_order/'))?.outputs.map((output) => [output.table, output.rows])).toEqual([
      ['dim_date', expect.any(Number)], ['fact_sales_order', 8307],
    ]);
  });

  it('writes fact_sales_order with exact DECIMAL money, DATE and sub-second TIME, renaming staff_id', async () => {
    const bytes = await fixture.processed.getBytes(outputKey(reports, 'fact_sales_order'));

    const types = await duck.types(bytes);
    const rows = await duck.rows(bytes);

    expect(types).toMatchObject({
      sales_order_id: 'INTEGER', created_date: 'DATE', created_time: 'TIME', last_updated_date: 'DATE', last_updated_time: 'TIME',
      sales_staff_id: 'INTEGER', unit_price: 'DECIMAL(10,2)', agreed_payment_date: 'DATE', agreed_delivery_date: 'DATE',
    });
    expect(Object.keys(types)).not.toContain('staff_id');
    expect(Object.keys(types)).not.toContain(SOURCE_VERSION_COLUMN);
    const source = snapshot('sales_order');
    expect(rows).toHaveLength(source.length);
    const order = source[0]!;
    expect(rows.find((row) => row.sales_order_id === order.sales_order_id)).toEqual({
      sales_order_id: order.sales_order_id,
      created_date: (order.created_at as string).slice(0, 10),
      created_time: duckTime((order.created_at as string).slice(11)),
      last_updated_date: (order.last_updated as string).slice(0, 10),
      last_updated_time: duckTime((order.last_updated as string).slice(11)),
      sales_staff_id: order.staff_id, counterparty_id: order.counterparty_id, units_sold: order.units_sold,
      unit_price: order.unit_price, currency_id: order.currency_id, design_id: order.design_id,
      agreed_payment_date: order.agreed_payment_date, agreed_delivery_date: order.agreed_delivery_date,
      agreed_delivery_location_id: order.agreed_delivery_location_id,
    });
    // Every price, to the cent: summed as integers on both sides.
    const cents = (price: unknown) => BigInt(String(price).replace('.', ''));
    const expectedCents = source.reduce((sum, row) => sum + cents(Number(row.unit_price).toFixed(2)), 0n);
    expect(rows.reduce((sum, row) => sum + cents(row.unit_price), 0n)).toBe(expectedCents);
  });

  it('writes purchase orders and payments: 19.99 exact, microseconds kept, paid BOOLEAN, account numbers dropped', async () => {
    const purchaseBytes = await fixture.processed.getBytes(outputKey(reports, 'fact_purchase_order'));
    const paymentBytes = await fixture.processed.getBytes(outputKey(reports, 'fact_payment'));

    const purchases = await duck.rows(purchaseBytes);
    const paymentTypesByColumn = await duck.types(paymentBytes);
    const paymentRows = await duck.rows(paymentBytes);

    expect(purchases.map((row) => [row.purchase_order_id, row.item_unit_price, row.last_updated_date, row.last_updated_time, row.staff_id])).toEqual([
      [1, '19.99', '2022-11-03', '14:20:52.187', 12],
      [2, '199.04', '2024-02-29', '23:59:59.999999', 20],
    ]);
    expect(Object.keys(paymentTypesByColumn)).toEqual([
      'payment_id', 'created_date', 'created_time', 'last_updated_date', 'last_updated_time', 'transaction_id', 'counterparty_id',
      'payment_amount', 'currency_id', 'payment_type_id', 'paid', 'payment_date',
    ]);
    expect(paymentTypesByColumn).toMatchObject({ paid: 'BOOLEAN', payment_amount: 'DECIMAL(18,2)', payment_date: 'DATE' });
    expect(paymentRows.map((row) => [row.payment_id, row.payment_amount, row.paid, row.payment_date])).toEqual([
      [2, '552548.62', false, '2022-11-04'], [3, '0.01', true, '2022-11-03'],
    ]);
  });

  it('emits dim_date for every date a fact refers to, with ISO weekdays', async () => {
    const salesDates = await duck.rows(await fixture.processed.getBytes(outputKey(reports, 'dim_date')));
    const referenced = new Set(
      snapshot('sales_order').flatMap((row) => [
        (row.created_at as string).slice(0, 10), (row.last_updated as string).slice(0, 10),
        row.agreed_payment_date as string, row.agreed_delivery_date as string,
      ]),
    );

    expect(new Set(salesDates.map((row) => row.date_id))).toEqual(referenced);
    // 2022-11-03 was a Thursday; 2022-11-06 a Sunday.
    expect(salesDates.find((row) => row.date_id === '2022-11-03')).toEqual({
      date_id: '2022-11-03', year: 2022, month: 11, day: 3, day_of_week: 4, day_name: 'Thursday', month_name: 'November', quarter: 4,
    });
    expect(salesDates.find((row) => row.date_id === '2022-11-06')).toMatchObject({ day_of_week: 7, day_name: 'Sunday' });
  });

  it('builds every dimension from its sources, joined, renamed and versioned', async () => {
    const dims = await foldDimensions(fixture);

    expect(Object.keys(dims.dim_location ?? {})).toHaveLength(30);
    expect(Object.keys(dims.dim_design ?? {})).toHaveLength(377);
    expect(Object.keys(dims.dim_staff ?? {})).toHaveLength(20);
    expect(Object.keys(dims.dim_counterparty ?? {})).toHaveLength(20);
    expect(Object.values(dims.dim_currency ?? {}).map((row) => [row.currency_code, row.currency_name])).toEqual([
      ['GBP', 'Pound Sterling'], ['USD', 'US Dollar'], ['EUR', 'Euro'],
    ]);
    expect(Object.values(dims.dim_payment_type ?? {}).map((row) => row.payment_type_name)).toEqual(paymentTypes.map((row) => row.payment_type_name));
    expect(dims.dim_transaction?.['1']).toEqual({ transaction_id: 1, transaction_type: 'PURCHASE', sales_order_id: null, purchase_order_id: 2, [SOURCE_VERSION_COLUMN]: '2022-11-03 14:20:52.186000' });

    const staff = snapshot('staff')[0]!;
    const department = snapshot('department').find((row) => row.department_id === staff.department_id)!;
    expect(dims.dim_staff?.[String(staff.staff_id)]).toEqual({
      staff_id: staff.staff_id, first_name: staff.first_name, last_name: staff.last_name,
      department_name: department.department_name, location: department.location, email_address: staff.email_address,
      [SOURCE_VERSION_COLUMN]: `${normalised(staff.last_updated as string)}|${normalised(department.last_updated as string)}`,
    });
    const counterparty = snapshot('counterparty')[0]!;
    const address = snapshot('address').find((row) => row.address_id === counterparty.legal_address_id)!;
    expect(dims.dim_counterparty?.[String(counterparty.counterparty_id)]).toEqual({
      counterparty_id: counterparty.counterparty_id, counterparty_legal_name: counterparty.counterparty_legal_name,
      counterparty_legal_address_line_1: address.address_line_1, counterparty_legal_address_line_2: address.address_line_2,
      counterparty_legal_district: address.district, counterparty_legal_city: address.city,
      counterparty_legal_postal_code: address.postal_code, counterparty_legal_country: address.country,
      counterparty_legal_phone_number: address.phone,
      [SOURCE_VERSION_COLUMN]: `${normalised(counterparty.last_updated as string)}|${normalised(address.last_updated as string)}`,
    });
  });

  it('writes nothing new when the same object is processed again: same keys, created false', async () => {
    const key = reports.find((report) => report.key.startsWith('staff/'))!.key;
    const objectsBefore = fixture.processed.objects.size;

    const again = await transformObject({ key }, fixture.deps);

    expect(again.outputs.map((output) => [output.key, output.created])).toEqual(reports.find((report) => report.key === key)!.outputs.map((output) => [output.key, false]));
    expect(fixture.processed.objects.size).toBe(objectsBefore);
  });
});

describe('transformObject joins and state', () => {
  it('emits a staff member only once their department is known, whichever arrives first', async () => {
    const fixture = createTransformFixture();
    const staff = snapshot('staff').filter((row) => row.department_id === 6);
    const departments = snapshot('department');

    const staffFirst = await transformObject({ key: await fixture.putCsv('staff', staff) }, fixture.deps);
    const departmentsAfter = await transformObject({ key: await fixture.putCsv('department', departments) }, fixture.deps);

    expect(staffFirst.outputs).toEqual([]);
    expect(departmentsAfter.outputs).toEqual([expect.objectContaining({ table: 'dim_staff', rows: staff.length })]);
  });

  it('turns a NULL department location into Unknown and an unknown currency code into Unknown', async () => {
    const fixture = createTransformFixture();
    const staffDepartment = snapshot('staff')[0]!.department_id;
    const department: JsonRow = { ...snapshot('department').find((row) => row.department_id === staffDepartment)!, location: null };
    const staff = snapshot('staff').filter((row) => row.department_id === department.department_id);
    const currency = { currency_id: 9, currency_code: 'ZZZ', created_at: '2024-01-01 00:00:00', last_updated: '2024-01-01 00:00:00' };

    const reports = await transformAll(fixture, [['department', [department]], ['staff', staff], ['currency', [currency]]]);
    const dims = await foldDimensions(fixture);

    expect(staff.length).toBeGreaterThan(0);
    expect(reports[1]?.outputs[0]?.rows).toBe(staff.length);
    expect(Object.values(dims.dim_staff ?? {}).map((row) => row.location)).toEqual(staff.map(() => 'Unknown'));
    expect(dims.dim_currency?.['9']?.currency_name).toBe('Unknown');
  });

  const novemberFiles = (): Array<[string, JsonRow[], string]> =>
    ['address', 'counterparty', 'currency', 'department', 'design', 'staff']
      .flatMap((table) => updateFiles(table).map(([runTime, rows]) => [table, rows, runTime] as [string, JsonRow[], string]))
      .sort((a, b) => a[2].localeCompare(b[2]));

  /** dim_staff and dim_counterparty as they must end: latest staff/counterparty joined with the latest partner. */
  function expectedJoinedDimensions() {
    const staff = latestSourceRows(updateFiles('staff'), 'staff_id');
    const departments = latestSourceRows(updateFiles('department'), 'department_id');
    const counterparties = latestSourceRows(updateFiles('counterparty'), 'counterparty_id');
    const addresses = latestSourceRows(updateFiles('address'), 'address_id');
    return {
      staff: Object.fromEntries([...staff.values()].map((member) => [String(member.staff_id), departments.get(member.department_id as number)?.location])),
      counterparty: Object.fromEntries([...counterparties.values()].map((row) => [String(row.counterparty_id), addresses.get(row.legal_address_id as number)?.address_line_1])),
    };
  }

  it('applies the November 2024 batch: department 6 moves its staff to Liverpool, address updates reach counterparties', async () => {
    const fixture = createTransformFixture();

    await transformAll(fixture, novemberFiles().map(([table, rows]) => [table, rows]));
    const dims = await foldDimensions(fixture);
    const expected = expectedJoinedDimensions();

    const departmentSix = Object.values(dims.dim_staff ?? {}).filter((row) => row.department_name === 'Facilities');
    expect(departmentSix.map((row) => row.staff_id).sort()).toEqual([16, 2, 3]);
    expect(departmentSix.every((row) => row.location === 'Liverpool')).toBe(true);
    expect(Object.fromEntries(Object.entries(dims.dim_staff ?? {}).map(([id, row]) => [id, row.location]))).toEqual(expected.staff);
    expect(dims.dim_counterparty?.['1']).toMatchObject({ counterparty_legal_address_line_1: '605 Haskell Trafficway', counterparty_legal_address_line_2: 'Axel Freeway', counterparty_legal_city: 'East Bobbie' });
    expect(dims.dim_counterparty?.['11']).toMatchObject({ counterparty_legal_city: 'Blotsworth', counterparty_legal_country: 'Indonesia' });
    expect(Object.fromEntries(Object.entries(dims.dim_counterparty ?? {}).map(([id, row]) => [id, row.counterparty_legal_address_line_1]))).toEqual(expected.counterparty);
  });

  it('ends in the same dimension state when the November files arrive in reverse order, or twice after a reset', async () => {
    const forward = createTransformFixture();
    const reverse = createTransformFixture();
    const files = novemberFiles().map(([table, rows]) => [table, rows] as [string, JsonRow[]]);

    await transformAll(forward, files);
    await transformAll(reverse, [...files].reverse());
    // A watermark reset re-extracts everything: the initial files arrive again after the updates.
    await transformAll(reverse, files.filter(([, rows]) => rows.length > 3));

    expect(await foldDimensions(reverse)).toEqual(await foldDimensions(forward));
  });

  it('keeps one row per id within an object: the newest version, of equal versions the last read, in id order', async () => {
    const fixture = createTransformFixture({ rowGroupSize: 2 });
    const version = (row: JsonRow, last_updated: string): JsonRow => ({ ...row, last_updated });
    const [purchase, sale] = transactions as [JsonRow, JsonRow];
    const rows = [
      version({ ...sale, transaction_id: 7 }, '2024-01-01 10:00:00.5'),
      version({ ...purchase, transaction_id: 3 }, '2024-01-02 00:00:00'),
      version({ ...sale, transaction_id: 3 }, '2024-01-01 23:59:59.999999'),
      version({ ...sale, transaction_id: 5, sales_order_id: 1 }, '2024-01-01 10:00:00.1'),
      version({ ...sale, transaction_id: 5, sales_order_id: 2 }, '2024-01-01 10:00:00.100000'),
      version({ ...sale, transaction_id: 7, sales_order_id: 9 }, '2024-01-01 10:00:00.49'),
    ];

    const [report] = await transformAll(fixture, [['transaction', rows]]);
    const written = await duck.rows(await fixture.processed.getBytes(outputKey([report!], 'dim_transaction')));

    expect(written.map((row) => [row.transaction_id, row.transaction_type, row.sales_order_id, row[SOURCE_VERSION_COLUMN]])).toEqual([
      [3, 'PURCHASE', null, '2024-01-02 00:00:00.000000'],
      [5, 'SALE', 2, '2024-01-01 10:00:00.100000'],
      [7, 'SALE', 2, '2024-01-01 10:00:00.500000'],
    ]);
  });

  it('reads the input in row groups without changing the rows', async () => {
    const fixture = createTransformFixture({ rowGroupSize: 1000 });

    const [report] = await transformAll(fixture, [['sales_order', snapshot('sales_order')]]);
    const rows = await duck.rows(await fixture.processed.getBytes(outputKey([report!], 'fact_sales_order')));

    expect(rows.map((row) => row.sales_order_id)).toEqual(snapshot('sales_order').map((row) => row.sales_order_id));
  });
});

describe('transformObject in a process', () => {
  it('transforms one object at a time, whatever the batch hands it', async () => {
    // prepare: an object counts from its read until its fact is written; the read takes a while
    const fixture = createTransformFixture();
    const keys = await Promise.all([1, 2, 3].map(() => fixture.putCsv('sales_order', snapshot('sales_order').slice(0, 10))));
    let transforming = 0;
    let mostAtOnce = 0;
    const { ingestion, processed } = fixture;
    const reading = Object.assign(Object.create(ingestion) as MemoryObjectStore, {
      getStream: async (key: string) => {
        transforming += 1;
        mostAtOnce = Math.max(mostAtOnce, transforming);
        await new Promise((resolve) => setTimeout(resolve, 20));
        return ingestion.getStream(key);
      },
    });
    const writing = Object.assign(Object.create(processed) as MemoryObjectStore, {
      putNew: async (...args: Parameters<MemoryObjectStore['putNew']>) => {
        const result = await processed.putNew(...args);
        if (args[0].startsWith('fact_sales_order/')) transforming -= 1;
        return result;
      },
    });

    // act
    const reports = await Promise.all(keys.map((key) => transformObject({ key }, { ...fixture.deps, ingestion: reading, processed: writing })));

    // assert
    expect(reports.map((report) => report.outputs.map((output) => [output.table, output.rows]))).toEqual(keys.map(() => [['dim_date', expect.any(Number)], ['fact_sales_order', 10]]));
    expect(mostAtOnce).toBe(1);
  });
});

describe('transformObject on bad input', () => {
  const order = snapshot('sales_order')[0]!;
  const orderTable = sourceTable('sales_order');
  const columns = orderTable.columns.map((column) => column.name);
  const cases: Array<[string, string, string | RegExp]> = [
    ['unknown column', toPgCsv(orderTable, [order], [...columns, 'discount']), /line 1: unknown column discount/],
    ['missing column', toPgCsv(orderTable, [order], columns.filter((name) => name !== 'units_sold')), /line 1: missing column units_sold/],
    ['NULL in a NOT NULL column', toPgCsv(orderTable, [order, { ...order, design_id: null }]), /line 3, column design_id: NULL in a NOT NULL column/],
    ['invalid date', toPgCsv(orderTable, [{ ...order, agreed_payment_date: '2024-02-30' }]), /line 2, column agreed_payment_date: "2024-02-30" is not a valid date/],
    ['non-numeric price', toPgCsv(orderTable, [order, order, order, order, order, { ...order, unit_price: 'abc' }]), /line 7, column unit_price: "abc" is not a decimal/],
    ['price with fractions of a cent', toPgCsv(orderTable, [{ ...order, unit_price: '3.945' }]), /column unit_price: "3.945" has more than 2 decimal places/],
    ['truncated CSV', toPgCsv(orderTable, [order, order]).slice(0, -20), /line 3: the record does not have one field per column/],
  ];

  it.each(cases)('%s: fails with InvalidInputError naming key, line and column, and writes nothing', async (_name, body, message) => {
    const state = new MemoryStateStore();
    const fixture = createTransformFixture({ state });
    const key = await fixture.putRaw('sales_order', body);

    const error = await transformObject({ key }, fixture.deps).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toMatch(new RegExp(`^${key.replace(/\./g, '\\.')} `));
    expect((error as Error).message).toMatch(message);
    expect(fixture.processed.objects.size).toBe(0);
  });

  it('checks a fact column\'s precision after every cell of the row, naming the fact table and the canonical value', async () => {
    const fixture = createTransformFixture();
    const tooDear = { ...order, unit_price: '0123456789.5' };
    const alone = await fixture.putRaw('sales_order', toPgCsv(orderTable, [order, tooDear]));
    const withBadCell = await fixture.putRaw('sales_order', toPgCsv(orderTable, [{ ...tooDear, agreed_delivery_location_id: 'x' }]));

    const error = await transformObject({ key: alone }, fixture.deps).catch((caught: unknown) => caught);
    const cellFirst = await transformObject({ key: withBadCell }, fixture.deps).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe(`${alone} line 3, column unit_price: "123456789.50" does not fit numeric(10,2)`);
    expect((error as InvalidInputError).context).toMatchObject({ table: 'fact_sales_order', line: 3, column: 'unit_price' });
    expect((cellFirst as Error).message).toBe(`${withBadCell} line 2, column agreed_delivery_location_id: "x" is not an integer`);
    expect(fixture.processed.objects.size).toBe(0);
  });

  it('validates the payment columns the warehouse drops', async () => {
    const fixture = createTransformFixture();
    const key = await fixture.putCsv('payment', [payments[0]!, { ...payments[1]!, counterparty_ac_number: 99999999999 }]);

    await expect(transformObject({ key }, fixture.deps)).rejects.toThrow(/line 3, column counterparty_ac_number: "99999999999" is out of range for a 32-bit integer/);
    expect(fixture.processed.objects.size).toBe(0);
  });

  it('stores no state for a bad object of a joined table', async () => {
    const state = new MemoryStateStore();
    const fixture = createTransformFixture({ state });
    const staff = snapshot('staff');
    const key = await fixture.putCsv('staff', [...staff.slice(0, 5), { ...staff[5]!, email_address: null }]);

    await expect(transformObject({ key }, fixture.deps)).rejects.toThrow(/line 7, column email_address/);

    expect(state.tables.size).toBe(0);
    expect(fixture.processed.objects.size).toBe(0);
  });

  it('skips keys outside the ingestion prefixes', async () => {
    const fixture = createTransformFixture();

    const report = await transformObject({ key: 'manifests/2024/11/21/run.json' }, fixture.deps);

    expect(report).toEqual({ key: 'manifests/2024/11/21/run.json', status: 'skipped', outputs: [] });
  });
});
