/**
 * Puts `value` in `cache` under `key` and returns it, the cache holding at most `max` entries:
 * when full, it starts again empty (its entries are results that can be computed again, so
 * forgetting them only costs that).
 */
export function remember<K, V>(cache: Map<K, V>, max: number, key: K, value: V): V {
  if (cache.size >= max && !cache.has(key)) cache.clear();
  cache.set(key, value);
  return value;
}
