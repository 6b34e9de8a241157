'use strict';

/**
 * The table names the deployed resources filter S3 notifications on. infra/ is plain CommonJS
 * loaded by serverless, so it cannot import src/schemas; tests/infra/tables.test.ts asserts these
 * lists equal src/schemas/source.ts and src/schemas/warehouse.ts, so the two cannot drift.
 */
const sourceTableNames = Object.freeze([
  'address', 'counterparty', 'currency', 'department', 'design', 'staff',
  'sales_order', 'purchase_order', 'payment_type', 'transaction', 'payment',
]);

const warehouseTableNames = Object.freeze([
  'dim_date', 'dim_staff', 'dim_location', 'dim_currency', 'dim_design', 'dim_counterparty',
  'dim_transaction', 'dim_payment_type', 'fact_sales_order', 'fact_purchase_order', 'fact_payment',
]);

module.exports = { sourceTableNames, warehouseTableNames };
