import { addDays, formatDate, type DateParts } from './civil-date.js';
import { remember } from '../bounded-cache.js';

/** Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher). */
export function easterSunday(year: number): DateParts {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return { year, month, day };
}

export const PENTECOST_MONDAY_LABEL = 'Lundi de Pentecôte';

const FIXED_HOLIDAYS: readonly (readonly [string, string])[] = [
  ['01-01', "Jour de l'an"],
  ['05-01', 'Fête du Travail'],
  ['05-08', 'Victoire 1945'],
  ['07-14', 'Fête nationale'],
  ['08-15', 'Assomption'],
  ['11-01', 'Toussaint'],
  ['11-11', 'Armistice 1918'],
  ['12-25', 'Noël'],
  // Alsace-Moselle local law.
  ['12-26', 'Saint-Étienne'],
];

const EASTER_HOLIDAYS: readonly (readonly [number, string])[] = [
  // Alsace-Moselle local law.
  [-2, 'Vendredi saint'],
  [1, 'Lundi de Pâques'],
  [39, 'Ascension'],
  [50, PENTECOST_MONDAY_LABEL],
];

const MAX_CACHED_YEARS = 1000;
const cache = new Map<string, ReadonlyMap<string, string>>();

function computeHolidays(year: number, pentecostMondayOpen: boolean): ReadonlyMap<string, string> {
  const easter = formatDate(easterSunday(year));
  const yyyy = String(year).padStart(4, '0');
  const entries: [string, string][] = FIXED_HOLIDAYS.map(([monthDay, label]) => [
    `${yyyy}-${monthDay}`,
    label,
  ]);
  for (const [offset, label] of EASTER_HOLIDAYS) {
    if (pentecostMondayOpen && label === PENTECOST_MONDAY_LABEL) continue;
    entries.push([addDays(easter, offset), label]);
  }
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Ascension can fall on 1 or 8 May (2008, 2059, 2070, …): one date, both names.
  const holidays = new Map<string, string>();
  for (const [date, label] of entries) {
    const already = holidays.get(date);
    holidays.set(date, already === undefined ? label : `${already} ; ${label}`);
  }
  return holidays;
}

/**
 * Public holidays of a year in Moselle, `YYYY-MM-DD` -> French label, in date order. Memoised per year
 * and option; Pentecost Monday is left out when the centre opens on it.
 */
export function holidaysOfYear(
  year: number,
  opts: { pentecostMondayOpen: boolean },
): ReadonlyMap<string, string> {
  if (!Number.isInteger(year) || year < 1583 || year > 9999) {
    throw new RangeError(`year out of range: ${String(year)}`);
  }
  const key = `${String(year)}:${String(opts.pentecostMondayOpen)}`;
  let holidays = cache.get(key);
  if (holidays === undefined) {
    holidays = remember(cache, MAX_CACHED_YEARS, key, computeHolidays(year, opts.pentecostMondayOpen));
  }
  return holidays;
}
