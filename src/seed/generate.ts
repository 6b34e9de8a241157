import { createHash } from 'node:crypto';
import type { Row } from '../schemas/rows';
import { streamFor } from './prng';
import { centsToMoney, dateAfter, millisToTimestamp, moneyToCents, timestampToMillis } from './values';

/**
 * Deterministic generators of the totesys rows the snapshot lacks (payment_type, purchase_order,
 * transaction, payment) and of extra sales orders beyond the real ones. Every generator is a
 * pure function of its inputs and the seed, and yields rows lazily: a table of a million rows is
 * streamed into COPY without ever being held in memory, and a later table re-derives the orders
 * it refers to by running the earlier generator again rather than remembering them.
 */

/** The ids the generated rows may refer to: those of the loaded reference tables. */
export interface ReferenceIds {
  readonly design: readonly number[];
  readonly staff: readonly number[];
  readonly counterparty: readonly number[];
  readonly currency: readonly number[];
  readonly address: readonly number[];
}

export interface GenerationPlan {
  readonly seed: number;
  /** Total sales orders: the real ones first, then generated ones. */
  readonly salesOrders: number;
  readonly purchaseOrders: number;
  readonly references: ReferenceIds;
  /** Real sales orders sorted by id; the first `min(salesOrders, length)` are kept. */
  readonly realSalesOrders: readonly Row[];
}

/** What a transaction and its payment need to know about the order behind them. */
interface OrderSummary {
  readonly kind: 'SALE' | 'PURCHASE';
  readonly id: number;
  readonly createdMillis: number;
  readonly counterpartyId: number;
  readonly currencyId: number;
  readonly totalCents: number;
  readonly paymentDate: string;
}

interface GeneratedOrder {
  /** Built only when the order's own table is copied: transactions and payments need only the summary. */
  readonly row: () => Row;
  readonly order: OrderSummary;
}

/** Real totesys took about 97 minutes between sales orders (8,307 from Nov 2022 to May 2024). */
const realOrderGapMillis = 97 * 60_000;
/** Generated orders never stretch beyond a year after the snapshot, however many are asked for. */
const maxGeneratedSpanMillis = 365 * 86_400_000;
/** When the real reference rows were created: payment types and migrations carry the same time. */
const referenceCreatedAt = '2022-11-03 14:20:49.962000';

export const paymentTypeNames = ['SALES_RECEIPT', 'SALES_REFUND', 'PURCHASE_PAYMENT', 'PURCHASE_REFUND'] as const;

/** The 4 real payment types, with the ids totesys gives them. */
export function paymentTypeRows(): Row[] {
  return paymentTypeNames.map((name, index) => ({
    payment_type_id: index + 1,
    payment_type_name: name,
    created_at: referenceCreatedAt,
    last_updated: referenceCreatedAt,
  }));
}

/** Prisma stores the SHA-256 of the migration's SQL; the name stands in for it here. */
function migrationChecksum(migrationName: string): string {
  return createHash('sha256').update(migrationName).digest('hex');
}

/** Two plausible Prisma migration rows; fixed, so seeding stays byte-identical. */
export function prismaMigrationRows(): Row[] {
  return [
    {
      id: '5c0f5a7e-2b1d-4c3e-9f6a-1d2e3f405162',
      checksum: migrationChecksum('20221103142000_init'),
      finished_at: '2022-11-03 14:20:45.118+00',
      migration_name: '20221103142000_init',
      logs: null,
      rolled_back_at: null,
      started_at: '2022-11-03 14:20:44.902+00',
      applied_steps_count: 1,
    },
    {
      id: '9e8d7c6b-5a49-4382-a716-f5e4d3c2b1a0',
      checksum: migrationChecksum('20221103142046_payments_and_transactions'),
      finished_at: '2022-11-03 14:20:47.431+00',
      migration_name: '20221103142046_payments_and_transactions',
      logs: null,
      rolled_back_at: null,
      started_at: '2022-11-03 14:20:47.210+00',
      applied_steps_count: 1,
    },
  ];
}

function keptRealOrders(plan: GenerationPlan): readonly Row[] {
  return plan.realSalesOrders.slice(0, Math.min(plan.salesOrders, plan.realSalesOrders.length));
}

function millisOf(row: Row, column: string): number {
  const millis = timestampToMillis(String(row[column]));
  if (millis === undefined) throw new Error(`sales_order ${String(row.sales_order_id)} has an invalid ${column}`);
  return millis;
}

/** The window generated orders fall into: after the last kept real order, at most a year long. */
function salesWindow(plan: GenerationPlan): { firstMillis: number; startMillis: number; slotMillis: number; endMillis: number } {
  const real = keptRealOrders(plan);
  const first = real[0];
  const last = real[real.length - 1];
  // Without any real order to continue from, start where the real data started.
  const firstMillis = first ? millisOf(first, 'created_at') : Date.UTC(2022, 10, 3, 14, 20, 52, 186);
  const startMillis = last ? millisOf(last, 'created_at') : firstMillis;
  const generated = plan.salesOrders - real.length;
  const span = Math.min(generated * realOrderGapMillis, maxGeneratedSpanMillis);
  const slotMillis = generated > 0 ? span / generated : 0;
  return { firstMillis, startMillis, slotMillis, endMillis: startMillis + span };
}

function* salesOrders(plan: GenerationPlan): Generator<GeneratedOrder> {
  for (const row of keptRealOrders(plan)) {
    const units = row.units_sold as number;
    const cents = moneyToCents(row.unit_price);
    if (cents === undefined) throw new Error(`sales_order ${String(row.sales_order_id)} has an invalid unit_price`);
    yield {
      row: () => row,
      order: {
        kind: 'SALE',
        id: row.sales_order_id as number,
        createdMillis: millisOf(row, 'created_at'),
        counterpartyId: row.counterparty_id as number,
        currencyId: row.currency_id as number,
        totalCents: units * cents,
        paymentDate: String(row.agreed_payment_date),
      },
    };
  }
  const real = keptRealOrders(plan).length;
  const { startMillis, slotMillis } = salesWindow(plan);
  const random = streamFor(plan.seed, 'sales_order');
  const { references } = plan;
  for (let index = 0; index < plan.salesOrders - real; index += 1) {
    // One slot per order with a random offset inside it: spread out, and ascending with the id.
    // Every draw happens here, in a fixed order, whether or not the row is built.
    const createdMillis = startMillis + Math.floor((index + random.next()) * slotMillis) + 1;
    const units = random.int(1_000, 100_000);
    const cents = random.int(200, 400);
    const counterpartyId = random.pick(references.counterparty);
    const currencyId = random.pick(references.currency);
    const paymentDate = dateAfter(createdMillis, random.int(0, 6));
    const designId = random.pick(references.design);
    const staffId = random.pick(references.staff);
    const deliveryDays = random.int(0, 14);
    const locationId = random.pick(references.address);
    const id = real + index + 1;
    yield {
      row: () => {
        const created = millisToTimestamp(createdMillis);
        return {
          sales_order_id: id,
          created_at: created,
          last_updated: created,
          design_id: designId,
          staff_id: staffId,
          counterparty_id: counterpartyId,
          units_sold: units,
          unit_price: centsToMoney(cents),
          currency_id: currencyId,
          agreed_delivery_date: dateAfter(createdMillis, deliveryDays),
          agreed_payment_date: paymentDate,
          agreed_delivery_location_id: locationId,
        };
      },
      order: { kind: 'SALE', id, createdMillis, counterpartyId, currencyId, totalCents: units * cents, paymentDate },
    };
  }
}

const itemCodeAlphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'];

function* purchaseOrders(plan: GenerationPlan): Generator<GeneratedOrder> {
  const { firstMillis, endMillis } = salesWindow(plan);
  const slotMillis = plan.purchaseOrders > 0 ? (endMillis - firstMillis) / plan.purchaseOrders : 0;
  const random = streamFor(plan.seed, 'purchase_order');
  const { references } = plan;
  for (let index = 0; index < plan.purchaseOrders; index += 1) {
    const createdMillis = firstMillis + Math.floor((index + random.next()) * slotMillis);
    let itemCode = '';
    for (let char = 0; char < 7; char += 1) itemCode += random.pick(itemCodeAlphabet);
    const quantity = random.int(1, 1_000);
    const cents = random.int(100, 100_000);
    const counterpartyId = random.pick(references.counterparty);
    const currencyId = random.pick(references.currency);
    const paymentDate = dateAfter(createdMillis, random.int(0, 7));
    const staffId = random.pick(references.staff);
    const deliveryDays = random.int(0, 14);
    const locationId = random.pick(references.address);
    const id = index + 1;
    yield {
      row: () => {
        const created = millisToTimestamp(createdMillis);
        return {
          purchase_order_id: id,
          created_at: created,
          last_updated: created,
          staff_id: staffId,
          counterparty_id: counterpartyId,
          item_code: itemCode,
          item_quantity: quantity,
          item_unit_price: centsToMoney(cents),
          currency_id: currencyId,
          agreed_delivery_date: dateAfter(createdMillis, deliveryDays),
          agreed_payment_date: paymentDate,
          agreed_delivery_location_id: locationId,
        };
      },
      order: { kind: 'PURCHASE', id, createdMillis, counterpartyId, currencyId, totalCents: quantity * cents, paymentDate },
    };
  }
}

/** Sales orders: the kept real ones, then generated ones with ids continuing after them. */
export function* salesOrderRows(plan: GenerationPlan): Generator<Row> {
  for (const { row } of salesOrders(plan)) yield row();
}

export function* purchaseOrderRows(plan: GenerationPlan): Generator<Row> {
  for (const { row } of purchaseOrders(plan)) yield row();
}

interface GeneratedTransaction {
  readonly row: Row;
  readonly createdMillis: number;
  readonly order: OrderSummary;
}

/**
 * One transaction per order, numbered in the order the orders were placed (sales and purchase
 * orders merged by time), each a little after its order and never before the previous one.
 */
function* transactions(plan: GenerationPlan): Generator<GeneratedTransaction> {
  const sales = salesOrders(plan);
  const purchases = purchaseOrders(plan);
  let sale = sales.next();
  let purchase = purchases.next();
  const random = streamFor(plan.seed, 'transaction');
  let previousMillis = 0;
  for (let id = 1; !sale.done || !purchase.done; id += 1) {
    let order: OrderSummary;
    if (!sale.done && (purchase.done || sale.value.order.createdMillis <= purchase.value.order.createdMillis)) {
      order = sale.value.order;
      sale = sales.next();
    } else if (!purchase.done) {
      order = purchase.value.order;
      purchase = purchases.next();
    } else {
      break;
    }
    const createdMillis = Math.max(order.createdMillis + random.int(1, 5_000), previousMillis);
    previousMillis = createdMillis;
    const created = millisToTimestamp(createdMillis);
    yield {
      createdMillis,
      order,
      row: {
        transaction_id: id,
        transaction_type: order.kind,
        sales_order_id: order.kind === 'SALE' ? order.id : null,
        purchase_order_id: order.kind === 'PURCHASE' ? order.id : null,
        created_at: created,
        last_updated: created,
      },
    };
  }
}

export function* transactionRows(plan: GenerationPlan): Generator<Row> {
  for (const { row } of transactions(plan)) yield row;
}

/** One payment per transaction, for the order's full amount, to the order's counterparty. */
export function* paymentRows(plan: GenerationPlan): Generator<Row> {
  const random = streamFor(plan.seed, 'payment');
  let previousMillis = 0;
  for (const transaction of transactions(plan)) {
    const { order } = transaction;
    const createdMillis = Math.max(transaction.createdMillis + random.int(1, 5_000), previousMillis);
    previousMillis = createdMillis;
    const created = millisToTimestamp(createdMillis);
    const refund = random.chance(0.05);
    // payment_type ids follow paymentTypeNames: 1 receipt, 2 sales refund, 3 purchase payment, 4 purchase refund.
    const paymentTypeId = order.kind === 'SALE' ? (refund ? 2 : 1) : refund ? 4 : 3;
    yield {
      payment_id: transaction.row.transaction_id as number,
      created_at: created,
      last_updated: created,
      transaction_id: transaction.row.transaction_id as number,
      counterparty_id: order.counterpartyId,
      payment_amount: centsToMoney(order.totalCents),
      currency_id: order.currencyId,
      payment_type_id: paymentTypeId,
      paid: random.chance(0.7),
      payment_date: order.paymentDate,
      company_ac_number: random.int(10_000_000, 99_999_999),
      counterparty_ac_number: random.int(10_000_000, 99_999_999),
    };
  }
}
