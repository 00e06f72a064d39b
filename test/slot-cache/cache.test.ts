import { describe, expect, it } from 'vitest';
import { SlotCache, type SlotList } from '../../src/services/slot-cache.js';

/** A computation the test finishes when it wants, to interleave invalidations with it. */
function deferred() {
  let resolve!: (l: SlotList) => void;
  const promise = new Promise<SlotList>((r) => (resolve = r));
  return { promise, resolve };
}

const list = (body: string, computedAt = 0, expiresAt = 1_000): SlotList => ({ body, computedAt, expiresAt });

describe('SlotCache', () => {
  it('is not used until live, and forgets everything when it goes down or comes back', async () => {
    const cache = new SlotCache(1_000);
    expect(await cache.lookup('travail', 'k', 0, async () => list('a'))).toBeNull();
    cache.setLive(true);
    expect(await cache.lookup('travail', 'k', 0, async () => list('a'))).toBe('a');
    expect(await cache.lookup('travail', 'k', 10, async () => list('b'))).toBe('a');
    cache.setLive(false);
    expect(await cache.lookup('travail', 'k', 10, async () => list('c'))).toBeNull();
    cache.setLive(true);
    expect(await cache.lookup('travail', 'k', 10, async () => list('d', 10))).toBe('d');
  });

  it('holds a list from the instant it was computed for until it expires', async () => {
    const cache = new SlotCache(1_000);
    cache.setLive(true);
    await cache.lookup('travail', 'k', 100, async () => list('a', 100, 200));
    expect(await cache.lookup('travail', 'k', 199, async () => list('b', 199, 300))).toBe('a');
    expect(await cache.lookup('travail', 'k', 200, async () => list('c', 200, 300))).toBe('c');
    // A clock moved back (tests do): the list says nothing about earlier instants.
    expect(await cache.lookup('travail', 'k', 50, async () => list('d', 50, 300))).toBe('d');
  });

  it('drops one domain on its notification, every domain on "*" or an unknown payload', async () => {
    const cache = new SlotCache(1_000);
    cache.setLive(true);
    await cache.lookup('travail', 'k', 0, async () => list('t'));
    await cache.lookup('logement', 'k', 0, async () => list('l'));
    expect(cache.size).toBe(2);
    cache.onNotification('travail');
    expect(cache.size).toBe(1);
    expect(await cache.lookup('logement', 'k', 0, async () => list('x'))).toBe('l');
    cache.onNotification('*');
    expect(cache.size).toBe(0);
    await cache.lookup('logement', 'k', 0, async () => list('l'));
    cache.onNotification('what?');
    expect(cache.size).toBe(0);
  });

  it('never stores a list whose reads began before an invalidation', async () => {
    const cache = new SlotCache(1_000);
    cache.setLive(true);
    const slow = deferred();
    const pending = cache.lookup('travail', 'k', 0, () => slow.promise);
    cache.onNotification('travail'); // a booking committed while the list was being read
    slow.resolve(list('stale'));
    expect(await pending).toBe('stale'); // that request raced the booking: it may answer either
    expect(await cache.lookup('travail', 'k', 1, async () => list('fresh', 1))).toBe('fresh');

    const other = deferred();
    const pendingAll = cache.lookup('logement', 'k', 0, () => other.promise);
    cache.invalidateAll();
    other.resolve(list('stale'));
    await pendingAll;
    expect(await cache.lookup('logement', 'k', 1, async () => list('fresh', 1))).toBe('fresh');
  });

  it('shares one computation between concurrent misses of a key, not across an invalidation', async () => {
    const cache = new SlotCache(1_000);
    cache.setLive(true);
    const slow = deferred();
    let computed = 0;
    const compute = () => {
      computed += 1;
      return slow.promise;
    };
    const a = cache.lookup('travail', 'k', 0, compute);
    const b = cache.lookup('travail', 'k', 5, compute);
    cache.invalidate('travail');
    const c = cache.lookup('travail', 'k', 6, async () => list('after', 6));
    slow.resolve(list('before'));
    expect([await a, await b, await c]).toEqual(['before', 'before', 'after']);
    expect(computed).toBe(1);
  });

  it('stays bounded', async () => {
    const cache = new SlotCache(1_000);
    cache.setLive(true);
    for (let i = 0; i < 2_500; i += 1) await cache.lookup('travail', `k${i}`, 0, async () => list('x'));
    expect(cache.size).toBeLessThanOrEqual(2_000);
  });
});
