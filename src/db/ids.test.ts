import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';

/** The Unix milliseconds a version 7 id carries. */
const millisOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('newId', () => {
  it('is a UUID version 7 (RFC 9562 variant) carrying its creation millisecond', () => {
    const at = Date.UTC(2026, 10, 26, 9, 30, 0, 123);
    const id = newId(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(millisOf(id)).toBe(at);
  });

  it('sorts by creation time, as PostgreSQL compares uuids (bytewise)', () => {
    const t0 = Date.UTC(2026, 0, 1);
    const ids = [t0 + 86_400_000, t0, t0 + 1, t0 + 255, t0 + 256, t0 + 2 ** 40].map((t) => ({
      t,
      id: newId(t),
    }));
    const byId = [...ids].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map((x) => x.t);
    expect(byId).toEqual([...ids].map((x) => x.t).sort((a, b) => a - b));
  });

  it('clamps a clock outside 1970 to year 10889 instead of throwing', () => {
    expect(millisOf(newId(Date.UTC(1969, 0, 1)))).toBe(0);
    expect(millisOf(newId(2 ** 50))).toBe(2 ** 48 - 1);
  });

  it('sorts in the order made within one millisecond, up to 2,048 ids', () => {
    const at = Date.UTC(2026, 10, 27, 16, 30);
    const ids = Array.from({ length: 2_048 }, () => newId(at));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => millisOf(id) === at)).toBe(true);
    // A new millisecond starts its own sequence, still after the last one's ids.
    const next = newId(at + 1);
    expect(next > ids.at(-1)!).toBe(true);
  });

  it('differs within one millisecond', () => {
    const at = Date.now();
    const ids = new Set(Array.from({ length: 10_000 }, () => newId(at)));
    expect(ids.size).toBe(10_000);
  });
});
