import { code as iso4217Record } from 'currency-codes';

/** What `dim_currency.currency_name` holds for a code ISO 4217 does not list. */
export const UNKNOWN_CURRENCY_NAME = 'Unknown';

/**
 * The ISO 4217 English name of a currency code (`GBP` → `Pound Sterling`). The names come from
 * the maintained `currency-codes` package, which tracks the ISO 4217 list, so a renamed or new
 * currency arrives with a dependency update instead of a hand-edited table.
 */
export function currencyName(currencyCode: string): string {
  return iso4217Record(currencyCode)?.currency ?? UNKNOWN_CURRENCY_NAME;
}
