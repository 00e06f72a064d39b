import { describe, expect, it } from 'vitest';
import { normalizeFrenchPhone } from './phone.js';

/** A fixed pseudo-random sequence: the same numbers at every run. */
function* digits(seed: number): Generator<string> {
  let x = seed;
  for (;;) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    yield String(x % 1_000_000).padStart(6, '0');
  }
}

describe('normalizeFrenchPhone skips the overseas readings a number cannot have', () => {
  it('gives what reading every overseas region gives, for every 4-digit national prefix', () => {
    const suffix = digits(42);
    const numbers: string[] = [];
    for (let prefix = 100; prefix <= 999; prefix++) {
      for (let i = 0; i < 3; i++) numbers.push(`0${prefix}${suffix.next().value}`);
    }
    let valid = 0;
    let overseas = 0;
    for (const n of numbers) {
      for (const writing of [n, n.replace(/(\d\d)(?=\d)/g, '$1 '), `+33${n.slice(1)}`]) {
        const fast = normalizeFrenchPhone(writing);
        expect(fast, writing).toEqual(normalizeFrenchPhone(writing, true));
        if (fast.ok) valid++;
        if (fast.ok && fast.region !== 'FR') overseas++;
      }
    }
    // The comparison means something only if both kinds of numbers were met.
    expect(valid).toBeGreaterThan(2000);
    expect(overseas).toBeGreaterThan(50);
  });
});
