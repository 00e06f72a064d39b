import Holidays from 'date-holidays';
import { describe, expect, it } from 'vitest';
import { addDays, formatDate } from './civil-date.js';
import { easterSunday, holidaysOfYear } from './holidays.js';

const MOSELLE_2026: readonly (readonly [string, string])[] = [
  ['2026-01-01', "Jour de l'an"],
  ['2026-04-03', 'Vendredi saint'],
  ['2026-04-06', 'Lundi de Pâques'],
  ['2026-05-01', 'Fête du Travail'],
  ['2026-05-08', 'Victoire 1945'],
  ['2026-05-14', 'Ascension'],
  ['2026-05-25', 'Lundi de Pentecôte'],
  ['2026-07-14', 'Fête nationale'],
  ['2026-08-15', 'Assomption'],
  ['2026-11-01', 'Toussaint'],
  ['2026-11-11', 'Armistice 1918'],
  ['2026-12-25', 'Noël'],
  ['2026-12-26', 'Saint-Étienne'],
];

// Easter 2027 is 28 March (the same Sunday as the spring DST change).
const MOSELLE_2027: readonly (readonly [string, string])[] = [
  ['2027-01-01', "Jour de l'an"],
  ['2027-03-26', 'Vendredi saint'],
  ['2027-03-29', 'Lundi de Pâques'],
  ['2027-05-01', 'Fête du Travail'],
  ['2027-05-06', 'Ascension'],
  ['2027-05-08', 'Victoire 1945'],
  ['2027-05-17', 'Lundi de Pentecôte'],
  ['2027-07-14', 'Fête nationale'],
  ['2027-08-15', 'Assomption'],
  ['2027-11-01', 'Toussaint'],
  ['2027-11-11', 'Armistice 1918'],
  ['2027-12-25', 'Noël'],
  ['2027-12-26', 'Saint-Étienne'],
];

describe('holidaysOfYear', () => {
  it('pins the 2026 Moselle holidays, in date order', () => {
    expect([...holidaysOfYear(2026, { pentecostMondayOpen: false })]).toEqual(MOSELLE_2026);
  });

  it('pins the 2027 Moselle holidays, in date order', () => {
    expect([...holidaysOfYear(2027, { pentecostMondayOpen: false })]).toEqual(MOSELLE_2027);
  });

  it('leaves Pentecost Monday out when the centre opens on it', () => {
    const open2026 = holidaysOfYear(2026, { pentecostMondayOpen: true });
    expect(open2026.has('2026-05-25')).toBe(false);
    expect([...open2026]).toEqual(MOSELLE_2026.filter(([date]) => date !== '2026-05-25'));
    const open2027 = holidaysOfYear(2027, { pentecostMondayOpen: true });
    expect([...open2027]).toEqual(MOSELLE_2027.filter(([date]) => date !== '2027-05-17'));
  });

  it('names both holidays when Ascension falls on 1 or 8 May', () => {
    const y2008 = holidaysOfYear(2008, { pentecostMondayOpen: false });
    expect(y2008.size).toBe(12);
    expect(y2008.get('2008-05-01')).toBe('Fête du Travail ; Ascension');
    expect(holidaysOfYear(2059, { pentecostMondayOpen: false }).get('2059-05-08')).toBe(
      'Victoire 1945 ; Ascension',
    );
  });

  it('memoises per year and option', () => {
    const closed = holidaysOfYear(2031, { pentecostMondayOpen: false });
    expect(holidaysOfYear(2031, { pentecostMondayOpen: false })).toBe(closed);
    expect(holidaysOfYear(2031, { pentecostMondayOpen: true })).not.toBe(closed);
  });

  it('refuses a year that is not an integer', () => {
    expect(() => holidaysOfYear(2026.5, { pentecostMondayOpen: false })).toThrow(RangeError);
  });
});

describe('easterSunday', () => {
  it('knows well-known Easter Sundays', () => {
    const known = ['2000-04-23', '2008-03-23', '2011-04-24', '2019-04-21', '2038-04-25', '2285-03-22'];
    for (const date of known) expect(formatDate(easterSunday(Number(date.slice(0, 4))))).toBe(date);
  });
});

describe('cross-check with date-holidays (FR, Moselle 57), 2000-2100', () => {
  // What date-holidays 3.37.0 says: for FR-57 it lists exactly 13 holidays of type 'public' in every year
  // 2000-2100, Pentecost Monday ('Lundi de Pentecôte', rule 'easter 50') always among them (Pentecost
  // Sunday is only an 'observance'); in 2008, 2059, 2070, 2081 and 2092 Ascension shares its date with
  // 1 or 8 May, so those years have 12 distinct dates. So with the centre closed on Pentecost Monday the two sets must be
  // equal, and with it open ours is theirs without Pentecost Monday.
  const holidays = new Holidays('FR', '57');
  const years = Array.from({ length: 101 }, (_, i) => 2000 + i);

  function theirs(year: number): {
    count: number;
    dates: Set<string>;
    pentecostMonday: string;
    easterMonday: string;
  } {
    const publicHolidays = holidays.getHolidays(year).filter((h) => h.type === 'public');
    const find = (rule: string): string => {
      const found = publicHolidays.find((h) => h.rule === rule);
      if (found === undefined) throw new Error(`date-holidays has no '${rule}' in ${String(year)}`);
      return found.date.slice(0, 10);
    };
    return {
      count: publicHolidays.length,
      dates: new Set(publicHolidays.map((h) => h.date.slice(0, 10))),
      pentecostMonday: find('easter 50'),
      easterMonday: find('easter 1'),
    };
  }

  it('agrees on Easter every year', () => {
    for (const year of years) {
      expect(addDays(theirs(year).easterMonday, -1), String(year)).toBe(formatDate(easterSunday(year)));
    }
  });

  it('agrees both ways on the holiday dates, Pentecost Monday closed', () => {
    for (const year of years) {
      const ours = new Set(holidaysOfYear(year, { pentecostMondayOpen: false }).keys());
      const { count, dates } = theirs(year);
      expect(count, String(year)).toBe(13);
      for (const date of ours) expect(dates.has(date), `${date} missing from date-holidays`).toBe(true);
      for (const date of dates) expect(ours.has(date), `${date} missing from ours`).toBe(true);
    }
  });

  it('agrees both ways with Pentecost Monday open, once it is taken out of theirs', () => {
    for (const year of years) {
      const ours = new Set(holidaysOfYear(year, { pentecostMondayOpen: true }).keys());
      const { dates, pentecostMonday } = theirs(year);
      dates.delete(pentecostMonday);
      expect(ours.has(pentecostMonday)).toBe(false);
      expect([...ours].sort()).toEqual([...dates].sort());
    }
  });
});
