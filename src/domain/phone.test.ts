import { describe, expect, it } from 'vitest';
import { MAX_PHONE_INPUT_LENGTH, maskPhone, normalizeFrenchPhone } from './phone.js';
import type { PhoneCheck, PhoneRegion } from './phone.js';

const ok = (e164: string, region: PhoneRegion): PhoneCheck => ({ ok: true, e164, region });
const refused = (reason: 'invalid' | 'premium_rate' | 'not_french'): PhoneCheck => ({ ok: false, reason });

describe('normalizeFrenchPhone: mainland writings', () => {
  it.each([
    '06 12 34 56 78',
    '0612345678',
    '06.12.34.56.78',
    '06-12-34-56-78',
    '06/12/34/56/78',
    '(06) 12 34 56 78',
    '+33 6 12 34 56 78',
    '+33612345678',
    '+33 (0)6 12 34 56 78',
    '+33 0 6 12 34 56 78',
    '0033612345678',
    '0033 6 12 34 56 78',
    '  06 12 34 56 78  ',
    '06\u00a012\u00a034\u00a056\u00a078',
    '06\u202f12\u202f34\u202f56\u202f78',
    '06\u201112\u201134\u201156\u201178',
    '612345678',
    '33612345678',
  ])('%j -> +33612345678', (input) => {
    expect(normalizeFrenchPhone(input)).toEqual(ok('+33612345678', 'FR'));
  });

  it.each([
    ['07 51 23 45 67', '+33751234567'],
    ['01 23 45 67 89', '+33123456789'],
    ['03 87 12 34 56', '+33387123456'],
    ['04 72 12 34 56', '+33472123456'],
    ['05 56 12 34 56', '+33556123456'],
    ['09 51 23 45 67', '+33951234567'],
    ['+33 9 51 23 45 67', '+33951234567'],
  ])('%j -> %s (FR)', (input, e164) => {
    expect(normalizeFrenchPhone(input)).toEqual(ok(e164, 'FR'));
  });
});

describe('normalizeFrenchPhone: overseas regions', () => {
  it.each<[string, string, PhoneRegion]>([
    // Guadeloupe
    ['0690 12 34 56', '+590690123456', 'GP'],
    ['0691 22 34 56', '+590691223456', 'GP'],
    ['0590 12 34 56', '+590590123456', 'GP'],
    ['+590 690 12 34 56', '+590690123456', 'GP'],
    ['00590 690 12 34 56', '+590690123456', 'GP'],
    // Martinique
    ['0696 12 34 56', '+596696123456', 'MQ'],
    ['0697 12 34 56', '+596697123456', 'MQ'],
    ['0596 61 23 45', '+596596612345', 'MQ'],
    ['+596 696 12 34 56', '+596696123456', 'MQ'],
    // Guyane
    ['0694 12 34 56', '+594694123456', 'GF'],
    ['0594 12 34 56', '+594594123456', 'GF'],
    ['+594 694 12 34 56', '+594694123456', 'GF'],
    // Réunion
    ['0692 12 34 56', '+262692123456', 'RE'],
    ['0693 12 34 56', '+262693123456', 'RE'],
    ['0262 12 34 56', '+262262123456', 'RE'],
    ['0263 12 34 56', '+262263123456', 'RE'],
    ['+262 692 12 34 56', '+262692123456', 'RE'],
    // Mayotte (shares +262 with Réunion)
    ['0639 01 23 45', '+262639012345', 'YT'],
    ['0269 61 23 45', '+262269612345', 'YT'],
    ['+262 639 01 23 45', '+262639012345', 'YT'],
    // Saint-Pierre-et-Miquelon: own calling code, 6-digit national numbers
    ['+508 41 12 34', '+508411234', 'PM'],
    ['+508 55 12 34', '+508551234', 'PM'],
    ['00508 55 12 34', '+508551234', 'PM'],
    // Saint-Barthélemy and Saint-Martin share +590 with Guadeloupe
    ['0590 27 12 34', '+590590271234', 'BL'],
    ['+590 590 27 12 34', '+590590271234', 'BL'],
    ['0590 87 12 34', '+590590871234', 'BL'], // 0590 87 is listed for both BL and MF: libphonenumber picks BL
    ['0590 43 12 34', '+590590431234', 'MF'],
    ['0590 07 12 34', '+590590071234', 'MF'],
    ['+590 590 43 12 34', '+590590431234', 'MF'],
  ])('%j -> %s (%s)', (input, e164, region) => {
    expect(normalizeFrenchPhone(input)).toEqual(ok(e164, region));
  });

  it('an overseas number written with +33 is re-read as its national writing', () => {
    expect(normalizeFrenchPhone('+33 690 12 34 56')).toEqual(ok('+590690123456', 'GP'));
    expect(normalizeFrenchPhone('+33 6 92 12 34 56')).toEqual(ok('+262692123456', 'RE'));
    expect(normalizeFrenchPhone('0033 639 01 23 45')).toEqual(ok('+262639012345', 'YT'));
  });

  it('uses libphonenumber metadata, not prefixes, for validity (pinned quirks)', () => {
    // 0639 12 xx xx is not an allocated Mayotte block (nor a mainland one).
    expect(normalizeFrenchPhone('0639 12 34 56')).toEqual(refused('invalid'));
    // A Réunion mobile prefix under the Guadeloupe calling code.
    expect(normalizeFrenchPhone('+590 692 12 34 56')).toEqual(refused('invalid'));
    // 0596 12 xx xx is unallocated in Martinique's metadata but valid in FR's.
    expect(normalizeFrenchPhone('0596 12 34 56')).toEqual(ok('+33596123456', 'FR'));
    // An explicit +33 number valid in FR stays FR even if the digits look overseas.
    expect(normalizeFrenchPhone('+33 596 61 23 45')).toEqual(ok('+33596612345', 'FR'));
  });

  it('PM has no national writing from mainland France', () => {
    expect(normalizeFrenchPhone('041 12 34')).toEqual(refused('invalid'));
    expect(normalizeFrenchPhone('55 12 34')).toEqual(refused('invalid'));
  });
});

describe('normalizeFrenchPhone: refusals', () => {
  it.each([
    '',
    '   ',
    '3939',
    '15',
    '17',
    '18',
    '112',
    '115',
    '119',
    '3646',
    '118 218',
    '0',
    '00',
    '+',
    '+33',
    '06 12 34 56 7',
    '06 12 34 56 789',
    '0612 345 67',
    '07 12 34 56 78',
    '00 00 00 00 00',
    '++33612345678',
    '06+12345678',
    'abc',
    'zéro six',
    '06 12 34 56 7a',
    'call 0612345678',
    'tel:+33612345678',
    '06 12 34 56 78 ext 12',
    '+33 6 12 34 56 78 x12',
    '06 12 34 56 78 #1',
    '０６１２３４５６７８',
    '06 12 34 56 78' + ' '.repeat(5) + '-'.repeat(12),
    '0'.repeat(31),
    '6'.repeat(10_000),
  ])('%j -> invalid', (input) => {
    expect(normalizeFrenchPhone(input)).toEqual(refused('invalid'));
  });

  it(`rejects inputs longer than ${MAX_PHONE_INPUT_LENGTH} characters once trimmed`, () => {
    const spaced = (n: number): string => `06${' '.repeat(n)}12 34 56 78`;
    expect(spaced(17)).toHaveLength(MAX_PHONE_INPUT_LENGTH);
    expect(normalizeFrenchPhone(spaced(17))).toEqual(ok('+33612345678', 'FR'));
    expect(normalizeFrenchPhone(`   ${spaced(17)}\n`)).toEqual(ok('+33612345678', 'FR'));
    expect(normalizeFrenchPhone(spaced(18))).toEqual(refused('invalid'));
  });

  // Pinned by experiment: libphonenumber's FR metadata types these PREMIUM_RATE or SHARED_COST.
  it.each([
    ['08 99 12 34 56', 'PREMIUM_RATE'],
    ['08 92 12 34 56', 'PREMIUM_RATE'],
    ['08 97 12 34 56', 'PREMIUM_RATE'],
    ['08 90 12 34 56', 'PREMIUM_RATE'],
    ['08 91 12 34 56', 'PREMIUM_RATE'],
    ['08 36 12 34 56', 'PREMIUM_RATE'],
    ['08 12 12 34 56', 'PREMIUM_RATE'],
    ['08 10 12 34 56', 'SHARED_COST'],
    ['08 11 12 34 56', 'SHARED_COST'],
    ['08 20 12 34 56', 'SHARED_COST'],
    ['08 21 12 34 56', 'SHARED_COST'],
    ['08 25 12 34 56', 'SHARED_COST'],
    ['08 26 12 34 56', 'SHARED_COST'],
    ['08 84 12 34 56', 'SHARED_COST'],
    ['+33 8 99 12 34 56', 'PREMIUM_RATE'],
    ['0033 8 25 12 34 56', 'SHARED_COST'],
    ['+590 899 12 34 56', 'overseas premium'],
  ])('%j (%s) -> premium_rate', (input) => {
    expect(normalizeFrenchPhone(input)).toEqual(refused('premium_rate'));
  });

  // Decision: toll-free (0800-0805) and UAN (0806-0809, ordinary tariff) are accepted.
  it.each([
    ['08 00 12 34 56', '+33800123456'],
    ['0805 12 34 56', '+33805123456'],
    ['08 06 12 34 56', '+33806123456'],
    ['08 09 12 34 56', '+33809123456'],
  ])('%j -> accepted as %s (toll-free / ordinary-rate 08)', (input, e164) => {
    expect(normalizeFrenchPhone(input)).toEqual(ok(e164, 'FR'));
  });

  it.each([
    '+44 20 7946 0958',
    '0044 20 7946 0958',
    '+1 202 555 0123',
    '+32 2 123 45 67',
    '+41 44 668 18 00',
    '+49 30 1234567',
    '+689 87 12 34 56', // French Polynesia: own numbering plan, not a PhoneRegion
    '+687 75 12 34', // New Caledonia
    '+681 72 12 34', // Wallis-et-Futuna
    '+269 321 23 45', // Comoros, not Mayotte
  ])('%j -> not_french', (input) => {
    expect(normalizeFrenchPhone(input)).toEqual(refused('not_french'));
  });

  it('never throws on non-string input from untyped callers', () => {
    for (const value of [undefined, null, 612345678, {}, []]) {
      expect(normalizeFrenchPhone(value as unknown as string)).toEqual(refused('invalid'));
    }
  });
});

describe('maskPhone', () => {
  it.each([
    ['+33612345678', '06 •• •• •• 78'],
    ['+33123456789', '01 •• •• •• 89'],
    ['+590690123456', '0690 •• •• 56'],
    ['+262692123456', '0692 •• •• 56'],
    ['+262639012345', '0639 •• •• 45'],
    ['+594694123456', '0694 •• •• 56'],
    ['+596696123456', '0696 •• •• 56'],
    ['+590590271234', '0590 •• •• 34'],
    ['+508551234', '055 •• 34'],
    ['+33800123456', '0 •• •• •• 56'],
    ['06 12 34 56 78', '06 •• •• •• 78'],
    ['0690 12 34 56', '0690 •• •• 56'],
    ['+44 20 7946 0958', '020 •• 0958'],
  ])('%j -> %j', (input, masked) => {
    expect(maskPhone(input)).toBe(masked);
  });

  it.each(['', '••', 'abc', '+', '3939', '+1 202 555 0123', 'x'.repeat(1000), '+33'])(
    '%j -> •• (unparseable or too short to mask)',
    (input) => {
      expect(maskPhone(input)).toBe('••');
    },
  );

  it('never throws on non-string input', () => {
    expect(maskPhone(undefined as unknown as string)).toBe('••');
    expect(maskPhone(42 as unknown as string)).toBe('••');
  });
});
