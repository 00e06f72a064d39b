import { describe, expect, it } from 'vitest';
import { pooledRandomBytes } from './random.js';

describe('pooledRandomBytes', () => {
  it('gives the length asked, never the same bytes twice, across pool refills', () => {
    const seen = new Set<string>();
    // 3,000 draws of 16 bytes: 48 kB, about twelve refills of the 4 kB pool, at every alignment
    // (a draw of 5 bytes shifts the next ones).
    for (let i = 0; i < 3_000; i++) {
      const b = pooledRandomBytes(16);
      expect(b).toHaveLength(16);
      seen.add(b.toString('hex'));
      if (i % 7 === 0) expect(pooledRandomBytes(5)).toHaveLength(5);
    }
    expect(seen.size).toBe(3_000);
  });

  it('hands out copies: a value stays as it was when the pool is refilled and wiped', () => {
    const a = pooledRandomBytes(32);
    const copy = Buffer.from(a);
    // More than the whole pool, in draws of at most 256 bytes: at least one refill.
    for (let drawn = 0; drawn < 5_000; drawn += 200) pooledRandomBytes(200);
    expect(a.equals(copy)).toBe(true);
    expect(a.equals(Buffer.alloc(32))).toBe(false);
    // Its own memory, not a window on a shared block.
    expect(a.byteOffset).toBe(0);
    expect(a.buffer.byteLength).toBe(32);
  });

  it('draws larger values directly, and looks uniform', () => {
    expect(pooledRandomBytes(1_000)).toHaveLength(1_000);
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 1_000; i++) for (const x of pooledRandomBytes(64)) counts[x]!++;
    // 64,000 bytes: 250 expected per value; a fixed or zeroed byte pattern would be far off.
    expect(Math.min(...counts)).toBeGreaterThan(150);
    expect(Math.max(...counts)).toBeLessThan(360);
  });
});
