import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/errors';
import type { Row } from '../../../src/schemas/rows';
import { address, salesOrder } from '../../../src/schemas/source';
import { readSourceCsv } from '../../../src/stages/transform/csv';
import { toPgCsv } from './fixtures';

const key = 'address/2024/11/21/address__initial__20241120T162545.036000__run00001__00001.csv';

const baseAddress = {
  address_id: 1, address_line_1: '6826 Herzog Via', address_line_2: null, district: 'Avon', city: 'New Patienceburgh',
  postal_code: '28441', country: 'Turkey', phone: '1803 637401',
  created_at: '2022-11-03 14:20:49.962', last_updated: '2022-11-03 14:20:49.962',
};

async function read(body: string | Buffer[], table = address, objectKey = key) {
  const rows: Array<{ row: Row; line: number }> = [];
  const count = await readSourceCsv(Readable.from(typeof body === 'string' ? [Buffer.from(body)] : body), table, objectKey, (row, line) => rows.push({ row, line }));
  return { count, rows };
}

async function failure(body: string, table = address, objectKey = key): Promise<InvalidInputError> {
  const error = await read(body, table, objectKey).then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(InvalidInputError);
  return error as InvalidInputError;
}

describe('readSourceCsv', () => {
  it('keeps tricky text exactly: quotes, commas, newlines, emoji, right-to-left, NULL versus empty', async () => {
    const tricky = [
      { ...baseAddress, address_id: 1, address_line_1: 'O\'Keefe "The Lodge", Flat 2', address_line_2: '' },
      { ...baseAddress, address_id: 2, address_line_1: 'line one\nline two\r\nline three', district: null },
      { ...baseAddress, address_id: 3, address_line_1: 'Tote 👜 Café — 東京', city: 'القاهرة', country: 'ישראל' },
      { ...baseAddress, address_id: 4, address_line_1: '\\.', address_line_2: ',', district: '"' },
      { ...baseAddress, address_id: 5, address_line_1: 'a "", b\n,""', address_line_2: null, district: '' },
    ];

    const { count, rows } = await read(toPgCsv(address, tricky));

    expect(count).toBe(5);
    expect(rows.map(({ row }) => [row.address_line_1, row.address_line_2, row.district, row.city, row.country])).toEqual([
      ['O\'Keefe "The Lodge", Flat 2', '', 'Avon', 'New Patienceburgh', 'Turkey'],
      ['line one\nline two\r\nline three', null, null, 'New Patienceburgh', 'Turkey'],
      ['Tote 👜 Café — 東京', null, 'Avon', 'القاهرة', 'ישראל'],
      ['\\.', ',', '"', 'New Patienceburgh', 'Turkey'],
      ['a "", b\n,""', null, '', 'New Patienceburgh', 'Turkey'],
    ]);
    // The multi-line record starts on line 3 and ends on line 5, so the next starts on line 6.
    expect(rows.map(({ line }) => line)).toEqual([2, 3, 6, 7, 8]);
    expect(rows[0]?.row).toMatchObject({ address_id: 1, created_at: '2022-11-03 14:20:49.962000' });
  });

  it('parses a body split into chunks at arbitrary bytes, even inside a multi-byte character', async () => {
    const body = Buffer.from(toPgCsv(address, [{ ...baseAddress, address_line_1: 'emoji 👜 "quoted, text"' }]));
    const chunks = [...body].map((byte) => Buffer.from([byte]));

    const { rows } = await read(chunks);

    expect(rows[0]?.row.address_line_1).toBe('emoji 👜 "quoted, text"');
  });

  it('names the key, line, column and rule for a bad value', async () => {
    const orders = [
      { sales_order_id: 1, created_at: '2024-01-01 10:00:00', last_updated: '2024-01-01 10:00:00', design_id: 1, staff_id: 1, counterparty_id: 1, units_sold: 5, unit_price: '1.00', currency_id: 1, agreed_delivery_date: '2024-01-02', agreed_payment_date: '2024-01-03', agreed_delivery_location_id: 1 },
    ];
    const salesKey = 'sales_order/2024/11/21/sales_order__initial__20241120T162545.036000__run00001__00001.csv';
    const csv = toPgCsv(salesOrder, [...orders, ...orders, { ...orders[0]!, unit_price: 'abc' }]);

    const error = await failure(csv, salesOrder, salesKey);

    expect(error.message).toBe(`${salesKey} line 4, column unit_price: "abc" is not a decimal`);
    expect(error.context).toMatchObject({ key: salesKey, table: 'sales_order', line: 4, column: 'unit_price', stage: 'transform' });
    expect(error.retryable).toBe(false);
  });

  it('rejects a header with an unknown, missing, duplicated or reordered column', async () => {
    const columns = address.columns.map((column) => column.name);

    const unknown = await failure(toPgCsv(address, [baseAddress], [...columns, 'nickname']));
    const missing = await failure(toPgCsv(address, [baseAddress], columns.filter((name) => name !== 'phone')));
    const duplicated = await failure(toPgCsv(address, [baseAddress], [...columns, 'city']));
    const reordered = await failure(toPgCsv(address, [baseAddress], [...columns.slice(1), columns[0]!]));

    expect(unknown.message).toMatch(new RegExp(`^${key} line 1: unknown column nickname`));
    expect(unknown.context.column).toBe('nickname');
    expect(missing.message).toBe(`${key} line 1: missing column phone`);
    expect(duplicated.message).toMatch(/column city appears twice/);
    expect(reordered.message).toMatch(/columns out of order/);
  });

  it('rejects NULL in a NOT NULL column but accepts the empty string there', async () => {
    const emptyCity = await read(toPgCsv(address, [{ ...baseAddress, city: '' }]));
    const error = await failure(toPgCsv(address, [{ ...baseAddress, city: null }]));

    expect(emptyCity.rows[0]?.row.city).toBe('');
    expect(error.message).toBe(`${key} line 2, column city: NULL in a NOT NULL column`);
  });

  it('rejects truncated bodies: unterminated quote, short last record, missing final newline, empty', async () => {
    const complete = toPgCsv(address, [baseAddress, { ...baseAddress, address_id: 2, address_line_1: 'a "quoted", long line' }]);
    const insideQuote = complete.slice(0, complete.indexOf('quoted') + 3);
    const shortRecord = complete.slice(0, complete.lastIndexOf(',')) + '\n';
    const noNewline = complete.slice(0, -3);

    expect((await failure(insideQuote)).message).toMatch(/line 3: the object ends inside a quoted field/);
    expect((await failure(shortRecord)).message).toMatch(/line 3: the record does not have one field per column/);
    expect((await failure(noNewline)).message).toMatch(/line 3: the last record has no line ending/);
    expect((await failure('')).message).toMatch(/the object is empty/);
  });

  it('rejects malformed quoting and converted line endings, naming the line and column', async () => {
    const lines = toPgCsv(address, [baseAddress, { ...baseAddress, address_id: 2 }]).split('\n');
    const withLine3 = (line: string) => [...lines.slice(0, 2), line, ...lines.slice(3)].join('\n');

    const quoteInside = await failure(withLine3(lines[2]!.replace(',Avon,', ',Av"on,')));
    const afterClosing = await failure(withLine3(lines[2]!.replace(',Avon,', ',"Avon"x,')));
    const crlf = await failure(lines.join('\r\n'));

    expect(quoteInside.message).toBe(`${key} line 3: malformed CSV: a quote inside an unquoted field (column district)`);
    expect(quoteInside.context).toMatchObject({ line: 3, column: 'district' });
    expect(afterClosing.message).toBe(`${key} line 3: malformed CSV: characters after a closing quote (column district)`);
    expect(crlf.message).toMatch(new RegExp(`^${key} line 1: malformed CSV: a carriage return outside quotes`));
  });

  it('rejects a byte order mark: PostgreSQL writes none, so the first column name does not match', async () => {
    const error = await failure(`\ufeff${toPgCsv(address, [baseAddress])}`);

    expect(error.message).toMatch(new RegExp(`^${key} line 1: unknown column \ufeffaddress_id \\(address has address_id,`));
  });

  it('accepts a header-only object as zero rows', async () => {
    const { count } = await read(toPgCsv(address, []));

    expect(count).toBe(0);
  });
});
