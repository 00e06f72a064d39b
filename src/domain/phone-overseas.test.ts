import { describe, expect, it } from 'vitest';
import { normalizeFrenchPhone, OVERSEAS_FILTER_ACTIVE } from './phone.js';

/** A fixed pseudo-random sequence: the same numbers at every run. */
function* digits(seed: number, width: number): Generator<string> {
  let x = seed;
  for (;;) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    yield String(x % 10 ** width).padStart(width, '0');
  }
}

const same = (writing: string) => {
  const fast = normalizeFrenchPhone(writing);
  expect(fast, writing).toEqual(normalizeFrenchPhone(writing, true));
  return fast;
};

describe('normalizeFrenchPhone skips the overseas readings a number cannot have', () => {
  it('is skipping them (the filter is built from the library metadata)', () => {
    expect(OVERSEAS_FILTER_ACTIVE).toBe(true);
  });

  it('gives what reading every overseas region gives, for every 4-digit national prefix', () => {
    const suffix = digits(42, 6);
    const regions = new Map<string, number>();
    let checked = 0;
    for (let prefix = 100; prefix <= 999; prefix++) {
      for (let i = 0; i < 5; i++) {
        const n = `0${prefix}${suffix.next().value}`;
        for (const writing of [n, n.replace(/(\d\d)(?=\d)/g, '$1 '), `+33${n.slice(1)}`]) {
          const r = same(writing);
          if (r.ok) regions.set(r.region, (regions.get(r.region) ?? 0) + 1);
          checked++;
        }
      }
    }
    expect(checked).toBe(900 * 5 * 3);
    // The comparison means something only if numbers of the territories were met (BL and MF,
    // whose ranges are narrow, are read below).
    for (const region of ['FR', 'GP', 'MQ', 'GF', 'RE', 'YT'])
      expect(regions.get(region) ?? 0, region).toBeGreaterThan(0);
  });

  it('and for shorter and longer national writings', () => {
    const rest = digits(7, 8);
    for (let prefix = 10; prefix <= 99; prefix++) {
      const tail = rest.next().value;
      for (let len = 6; len <= 10; len++) same(`0${prefix}${tail.slice(0, len - 2)}`);
      same(`0${prefix}${tail}1`);
    }
  });

  it('reads territories sharing a calling code by their leading digits', () => {
    expect(same('0590 27 12 34')).toMatchObject({ ok: true, region: 'BL' });
    expect(same('0590 43 12 34')).toMatchObject({ ok: true, region: 'MF' });
    expect(same('0590 81 12 34')).toMatchObject({ ok: true, region: 'GP' });
    expect(same('0269 60 12 34')).toMatchObject({ ok: true, region: 'YT' });
    expect(same('0262 12 34 56')).toMatchObject({ ok: true, region: 'RE' });
  });
});
