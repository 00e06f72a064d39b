import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maskPhone, normalizeFrenchPhone } from './phone.js';

/** Properties of normalizeFrenchPhone and maskPhone over generated inputs (examples: phone.test.ts). */
describe('properties', () => {
  const E164 = /^\+\d{8,15}$/;

  const checkInvariants = (input: string): void => {
    const result = normalizeFrenchPhone(input);
    const masked = maskPhone(input);
    expect(typeof masked).toBe('string');
    if (result.ok) {
      expect(result.e164).toMatch(E164);
      expect(normalizeFrenchPhone(result.e164)).toEqual(result);
      const maskedE164 = maskPhone(result.e164);
      expect(maskedE164).toContain('••');
      expect(maskedE164.endsWith(result.e164.slice(-2))).toBe(true);
    } else {
      expect(['invalid', 'premium_rate', 'not_french']).toContain(result.reason);
    }
  };

  const separator = fc.constantFrom('', ' ', '.', '-', '/', '\u00a0', '(', ')', '+');
  const digit = fc.constantFrom(...'0123456789');
  const phoneLike = fc
    .array(fc.tuple(digit, separator), { minLength: 0, maxLength: 20 })
    .chain((pairs) =>
      fc
        .constantFrom('', '+', '00', '+33', '0033', '0')
        .map((prefix) => prefix + pairs.map(([d, s]) => d + s).join('')),
    );

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })),
        (input) => {
          checkInvariants(input);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws on random digit strings with random separators; ok results are stable E.164', () => {
    fc.assert(
      fc.property(phoneLike, (input) => {
        checkInvariants(input);
      }),
      { numRuns: 2000 },
    );
  });

  it('separators do not change the result of a 10-digit national number', () => {
    const nationalDigits = fc
      .tuple(fc.constantFrom(...'123456789'), fc.array(digit, { minLength: 8, maxLength: 8 }))
      .map(([first, rest]) => `0${first}${rest.join('')}`);
    fc.assert(
      fc.property(
        nationalDigits,
        fc.array(fc.constantFrom('', ' ', '.', '-'), { minLength: 9, maxLength: 9 }),
        (digits, seps) => {
          const written = [...digits].map((d, i) => d + (seps[i] ?? '')).join('');
          const result = normalizeFrenchPhone(written);
          expect(result).toEqual(normalizeFrenchPhone(digits));
          if (result.ok) expect(normalizeFrenchPhone(result.e164)).toEqual(result);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('06/07 numbers read the same in national and +33 / 0033 writings', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('6', '7'),
        fc.array(digit, { minLength: 8, maxLength: 8 }),
        (lead, rest) => {
          const nsn = lead + rest.join('');
          const national = normalizeFrenchPhone(`0${nsn}`);
          expect(normalizeFrenchPhone(`+33${nsn}`)).toEqual(national);
          expect(normalizeFrenchPhone(`0033 ${nsn}`)).toEqual(national);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('valid French mobiles are found often enough for the properties to mean something', () => {
    const found = ['0612345678', '0690123456', '0692123456', '0694123456', '0696123456', '0639012345'].filter(
      (n) => normalizeFrenchPhone(n).ok,
    );
    expect(found).toHaveLength(6);
  });
});
