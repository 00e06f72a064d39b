/**
 * Human-readable callback references, read out on the phone: `RAP-` and six characters from
 * an alphabet without look-alikes (no 0/O, 1/I/L, U, 5/S, 2/Z): 26^6 ≈ 309 million values.
 */
export const REFERENCE_ALPHABET = '346789ABCDEFGHJKMNPQRTVWXY';
export const REFERENCE_PATTERN = /^RAP-[346789ABCDEFGHJKMNPQRTVWXY]{6}$/;

/** `randomBytes` is injected so the domain stays pure. */
export function makeReference(randomBytes: (n: number) => Uint8Array): string {
  const n = REFERENCE_ALPHABET.length;
  const out: string[] = [];
  while (out.length < 6) {
    for (const b of randomBytes(8)) {
      // rejection sampling: no modulo bias
      if (b < 256 - (256 % n) && out.length < 6) out.push(REFERENCE_ALPHABET[b % n]!);
    }
  }
  return `RAP-${out.join('')}`;
}

/**
 * Accepts what a citizen may read out or type: lower case, spaces, a missing dash, the six
 * characters without `RAP`.
 */
export function normaliseReference(input: string): string | null {
  // Spaces, dashes of any kind (\p{Pd}, and the minus sign U+2212) and invisible format
  // characters (soft hyphen, zero-width spaces and joiners: \p{Cf}), as copied from a mail or a
  // word processor, go; then ASCII letters and digits only, checked before upper-casing:
  // 'ﬀ'.toUpperCase() is 'FF'.
  const compact = input.replace(/[\s\p{Pd}\p{Cf}\u2212]/gu, '');
  if (!/^[A-Za-z0-9]+$/.test(compact)) return null;
  return referenceOf(compact.toUpperCase());
}

function referenceOf(compact: string): string | null {
  const code = compact.length === 9 && compact.startsWith('RAP') ? compact.slice(3) : compact;
  const ref = `RAP-${code}`;
  return REFERENCE_PATTERN.test(ref) ? ref : null;
}
