import fc from 'fast-check';
import { DateTime, IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import { RememberingZone } from './zone.js';

/** Luxon's own zone, which asks Intl every time: the oracle. */
const intl = IANAZone.create('Europe/Paris');

/** Instants of a zone's changes of offset between two years, found by asking Intl day by day (they are months apart). */
function changesOfOffset(intl: IANAZone, fromYear = 1900, toYear = 2100): number[] {
  const out: number[] = [];
  const day = 86_400_000;
  let t = Date.UTC(fromYear, 0, 1);
  let prev = intl.offset(t);
  for (; t < Date.UTC(toYear, 0, 1); t += day) {
    const o = intl.offset(t + day);
    if (o !== prev) {
      // The second it happens at.
      let lo = t;
      let hi = t + day;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (intl.offset(mid) === prev) lo = mid;
        else hi = mid;
      }
      out.push(hi);
      prev = o;
    }
  }
  return out;
}

describe('RememberingZone (Europe/Paris offsets remembered per hour)', () => {
  const changes = changesOfOffset(intl);

  it('has the changes of offset this test relies on (DST, the wars, 1976 onwards)', () => {
    expect(changes.length).toBeGreaterThan(100);
    expect(changes).toContain(Date.parse('2026-03-29T01:00:00Z'));
    expect(changes).toContain(Date.parse('2026-10-25T01:00:00Z'));
  });

  it('gives Intl’s offset at every instant around each change, asked in any order', () => {
    const zone = new RememberingZone('Europe/Paris');
    const near = [-3_600_000, -1_800_000, -1001, -1000, -1, 0, 1, 999, 1000, 1_800_000, 3_599_999, 3_600_000];
    for (const c of changes) {
      for (const d of near) expect(zone.offset(c + d)).toBe(intl.offset(c + d));
      for (const d of [...near].reverse()) expect(zone.offset(c + d)).toBe(intl.offset(c + d));
    }
  });

  it('gives Intl’s offset around changes that are not on a UTC hour (Lord Howe Island: 02:00 at +10:30)', () => {
    // Paris has had one such change only (1911): this zone has one a year (October, 15:30 UTC).
    const lordHowe = IANAZone.create('Australia/Lord_Howe');
    const zone = new RememberingZone('Australia/Lord_Howe');
    const offHour = changesOfOffset(lordHowe, 2020, 2030).filter((c) => c % 3_600_000 !== 0);
    expect(offHour.length).toBeGreaterThanOrEqual(9);
    for (const c of offHour) {
      for (const d of [-3_600_000, -1000, 0, 1000, 1_799_000, 3_600_000]) {
        expect(zone.offset(c + d)).toBe(lordHowe.offset(c + d));
      }
    }
  });

  it('gives Intl’s offset for any instant from 1900 to 2100', () => {
    const zone = new RememberingZone('Europe/Paris');
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) }), (ts) => {
        expect(zone.offset(ts)).toBe(intl.offset(ts));
        expect(zone.offset(ts)).toBe(intl.offset(ts)); // the remembered answer too
      }),
      { numRuns: 20_000 },
    );
  });

  it('builds the same DateTimes as Luxon’s zone, wall times in the spring gap and the autumn overlap included', () => {
    const zone = new RememberingZone('Europe/Paris');
    fc.assert(
      fc.property(
        fc.integer({ min: 2020, max: 2040 }),
        fc.constantFrom(3, 10),
        fc.integer({ min: 24, max: 31 }),
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        (year, month, day, hour, minute) => {
          const wall = { year, month, day, hour, minute };
          const a = DateTime.fromObject(wall, { zone });
          const b = DateTime.fromObject(wall, { zone: 'Europe/Paris' });
          expect(a.toISO()).toBe(b.toISO());
          expect(a.setZone('utc').setZone(zone).toISO()).toBe(b.toISO());
          expect(a.plus({ hours: 1 }).toISO()).toBe(b.plus({ hours: 1 }).toISO());
          expect(a.plus({ days: 1 }).toISO()).toBe(b.plus({ days: 1 }).toISO());
          expect(a.toLocaleString(DateTime.DATETIME_FULL, { locale: 'fr' })).toBe(
            b.toLocaleString(DateTime.DATETIME_FULL, { locale: 'fr' }),
          );
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('is the same zone as Luxon’s for Luxon', () => {
    const zone = new RememberingZone('Europe/Paris');
    expect(zone.equals(intl)).toBe(true);
    expect(intl.equals(zone)).toBe(true);
    expect(zone.name).toBe('Europe/Paris');
    expect(zone.type).toBe('iana');
    const now = DateTime.fromISO('2026-07-14T10:00:00', { zone });
    expect(now.setZone('Europe/Paris')).toBe(now); // equal zones: setZone keeps the same DateTime
    expect(now.zoneName).toBe('Europe/Paris');
  });
});
