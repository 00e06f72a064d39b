import { describe, expect, it } from 'vitest';
import { makeReference, normaliseReference, REFERENCE_PATTERN } from './reference.js';

describe('callback references', () => {
  it('are RAP- and six characters of the alphabet without look-alikes', () => {
    let seed = 7;
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => (seed = (seed * 97 + 13) % 256));
    for (let i = 0; i < 200; i++) expect(makeReference(bytes)).toMatch(REFERENCE_PATTERN);
  });

  it('are found as a citizen reads them out or types them', () => {
    for (const typed of [
      'RAP-EX48NW',
      'rap-ex48nw',
      'RAP EX48NW',
      ' rap ex48 nw ',
      'RAPEX48NW',
      'EX48NW',
      'ex 48 nw',
      // Copied from a mail: no-break spaces, a Unicode dash.
      'RAP\u00A0EX48\u202FNW',
      'RAP\u2011EX48NW',
      // A minus sign, a full-width hyphen, a soft hyphen, zero-width spaces and joiners.
      'RAP\u2212EX48NW',
      'RAP\uFF0DEX48NW',
      'RAP-EX\u00AD48NW',
      'RAP-\u200BEX48\u200DNW\u2060',
      '\uFEFFRAP-EX48NW',
    ])
      expect(normaliseReference(typed), typed).toBe('RAP-EX48NW');
  });

  it('refuse what cannot be one', () => {
    // O, 0, 1, I, L, U, 5, S, 2, Z are not in the alphabet; wrong lengths; another prefix.
    expect(normaliseReference('RAP-FF3467')).toBe('RAP-FF3467');
    for (const typed of [
      '',
      'RAP-',
      'RAP-EX48N',
      'RAP-EX48NWW',
      'EX48N',
      'RAP-EX48N0',
      'RAP-EX48NO',
      'XYZ-EX48NW',
      'RAPRAP-EX48NW',
      // Non-ASCII that upper-cases to ASCII: a ligature ('ﬀ' is 'FF'), a full-width letter.
      'RAP-\uFB003467',
      'RAP-\uFF25X48NW',
    ])
      expect(normaliseReference(typed), typed).toBeNull();
  });
});
