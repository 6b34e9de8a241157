import { describe, expect, it } from 'vitest';
import { readSnapshotTable, validateSnapshotRows } from '../../src/seed/snapshot';
import { currency, salesOrder } from '../../src/schemas/source';
import { InvalidInputError } from '../../src/errors';

const order = {
  sales_order_id: 11283, created_at: '2024-11-21 13:32:38.364', last_updated: '2024-11-21 13:32:38.364280',
  design_id: 3, staff_id: 19, counterparty_id: 8, units_sold: 42972, unit_price: 3.94, currency_id: 2,
  agreed_delivery_date: '2024-11-25', agreed_payment_date: '2024-11-26', agreed_delivery_location_id: 8,
};

function failure(rows: unknown): InvalidInputError {
  try {
    validateSnapshotRows(salesOrder, rows, 'sales_order.json');
  } catch (error) {
    if (error instanceof InvalidInputError) return error;
    throw error;
  }
  throw new Error('expected the rows to be rejected');
}

describe('validateSnapshotRows', () => {
  it('accepts unit_price as a JSON number or string and gives the same exact money text', () => {
    const rows = validateSnapshotRows(salesOrder, [{ ...order, sales_order_id: 2, unit_price: '3.9' }, { ...order, unit_price: 3.94 }], 'sales_order.json');

    expect(rows.map((row) => row.unit_price)).toEqual(['3.90', '3.94']);
  });

  it('keeps timestamps exactly as written and sorts rows by id', () => {
    const rows = validateSnapshotRows(salesOrder, [order, { ...order, sales_order_id: 7, created_at: '2023-02-16 09:26:10' }], 'sales_order.json');

    expect(rows.map((row) => [row.sales_order_id, row.created_at])).toEqual([[7, '2023-02-16 09:26:10'], [11283, '2024-11-21 13:32:38.364']]);
  });

  it('rejects a price with more than two fractional digits, naming the file, row and column', () => {
    const error = failure([order, { ...order, unit_price: '3.945' }]);

    expect(error.message).toBe('sales_order.json: row 2 of sales_order, column unit_price is "3.945", not a decimal with at most 2 fractional digits');
    expect(error.context).toMatchObject({ stage: 'seed', table: 'sales_order', key: 'sales_order.json', line: 2, column: 'unit_price' });
  });

  it('rejects impossible dates, missing and unknown columns and non-integer ids', () => {
    const { staff_id: _staffId, ...withoutStaff } = order;

    expect(failure([{ ...order, agreed_payment_date: '2024-02-30' }]).context.column).toBe('agreed_payment_date');
    expect(failure([{ ...order, created_at: '2024-11-21T13:32:38' }]).context.column).toBe('created_at');
    expect(failure([withoutStaff]).message).toMatch(/lacks column staff_id/);
    expect(failure([{ ...order, discount: 1 }]).message).toMatch(/unknown column discount/);
    expect(failure([{ ...order, design_id: 1.5 }]).context.column).toBe('design_id');
    expect(failure([{ ...order, units_sold: null }]).message).toMatch(/NOT NULL/);
    expect(failure({ rows: [] }).message).toMatch(/expected a JSON array/);
  });

  it('enforces varchar lengths from the schema', () => {
    expect(() => validateSnapshotRows(currency, [{ currency_id: 1, currency_code: 'GBPX', created_at: order.created_at, last_updated: order.created_at }], 'currency.json'))
      .toThrow(/currency_code is longer than 3 characters/);
  });
});

describe('readSnapshotTable', () => {
  it('reads the shipped snapshot', async () => {
    const rows = await readSnapshotTable(currency);

    expect(rows.map((row) => row.currency_code)).toEqual(['GBP', 'USD', 'EUR']);
  });

  it('names the file it cannot read', async () => {
    await expect(readSnapshotTable(currency, '/nonexistent')).rejects.toThrow('cannot read the currency snapshot /nonexistent/currency.json');
  });
});
