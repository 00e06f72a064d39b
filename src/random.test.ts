import { describe, expect, it } from 'vitest';
import { secureRandomBytes } from './random.js';

describe('secureRandomBytes', () => {
  it('gives the length asked, never the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    // 3,000 draws of 16 bytes: 48 kB, about twelve refills of the 4 kB pool, at every alignment
    // (a draw of 5 bytes shifts the next ones).
    for (let i = 0; i < 3_000; i++) {
      const b = secureRandomBytes(16);
      expect(b).toHaveLength(16);
      seen.add(b.toString('hex'));
      if (i % 7 === 0) expect(secureRandomBytes(5)).toHaveLength(5);
    }
    expect(seen.size).toBe(3_000);
  });

  it('hands out copies: changing one changes neither the pool nor later draws', () => {
    const a = secureRandomBytes(32);
    const copy = Buffer.from(a);
    a.fill(0);
    const b = secureRandomBytes(32);
    expect(b.equals(Buffer.alloc(32))).toBe(false);
    expect(b.equals(copy)).toBe(false);
  });

  it('draws larger values directly, and looks uniform', () => {
    expect(secureRandomBytes(1_000)).toHaveLength(1_000);
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 1_000; i++) for (const x of secureRandomBytes(64)) counts[x]!++;
    // 64,000 bytes: 250 expected per value; a fixed or zeroed byte pattern would be far off.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    expect(Math.max(...counts)).toBeLessThan(360);
  });
});
