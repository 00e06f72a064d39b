/**
 * Local calendar dates (`YYYY-MM-DD`) as plain civil days. A date has no zone and no DST, so stepping
 * dates is integer arithmetic on day numbers (Howard Hinnant's days-from-civil): exact, and much cheaper
 * than building a DateTime per day. Instants are only built from dates in local-time.ts.
 */

export interface DateParts {
  year: number;
  month: number;
  day: number;
}

const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

export function parseDateParts(date: string): DateParts | null {
  const match = DATE_PATTERN.exec(date);
  if (match === null) return null;
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

/** Strict `YYYY-MM-DD` naming a day that exists. */
export function isValidDate(date: string): boolean {
  return parseDateParts(date) !== null;
}

export function requireDate(date: string): DateParts {
  const parts = parseDateParts(date);
  if (parts === null) throw new RangeError(`invalid date: ${JSON.stringify(date)}`);
  return parts;
}

/** Days since 1970-01-01. */
export function toEpochDay({ year, month, day }: DateParts): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

export function fromEpochDay(epochDay: number): DateParts {
  const z = epochDay + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

export function formatDate({ year, month, day }: DateParts): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

export function addDays(date: string, days: number): string {
  return formatDate(fromEpochDay(toEpochDay(requireDate(date)) + days));
}

/** Days from `from` to `to` (dates YYYY-MM-DD): 0 for the same date, negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
  return toEpochDay(requireDate(to)) - toEpochDay(requireDate(from));
}

/** ISO weekday, 1 = Monday … 7 = Sunday (1970-01-01 was a Thursday). */
export function weekdayOf(parts: DateParts): number {
  const mod = (toEpochDay(parts) + 3) % 7;
  return (mod < 0 ? mod + 7 : mod) + 1;
}
