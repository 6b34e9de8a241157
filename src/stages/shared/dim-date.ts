import type { Row } from '../../schemas/rows';

const dayNames = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;
const monthNames = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
] as const;

/**
 * The dim_date row of a calendar date (`YYYY-MM-DD`). A pure function of the date, so the
 * transform (which emits dim_date files) and the load (which makes sure every date a fact refers
 * to exists before inserting it) derive identical rows.
 */
export function dimDateRow(isoDate: string): Row {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate);
  if (!match) throw new Error(`not a date: ${isoDate}`);
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  // UTC arithmetic: a calendar date has no time zone, and local time would shift it.
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  const isoDayOfWeek = weekday === 0 ? 7 : weekday;
  return {
    date_id: isoDate,
    year,
    month,
    day,
    day_of_week: isoDayOfWeek,
    day_name: dayNames[isoDayOfWeek - 1] ?? '',
    month_name: monthNames[month - 1] ?? '',
    quarter: Math.floor((month - 1) / 3) + 1,
  };
}
