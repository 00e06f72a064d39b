import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

/**
 * `n` bytes from the operating system's CSPRNG, as `crypto.randomBytes(n)` gives them, drawn from
 * a pool refilled 4 kB at a time: a booking draws four small values (id, reference, cancel token,
 * seal IV), and each `randomBytes` call costs a trip into OpenSSL (~3 µs, more under load) where
 * a copy from the pool costs 0.2 µs. Each byte is handed out once. (Node's own `randomUUID` keeps
 * such a cache too.) For values of at most 256 bytes; larger ones are drawn directly.
 */
export function secureRandomBytes(n: number): Buffer {
  if (n > 256) return randomFillSync(Buffer.alloc(n));
  if (used + n > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const out = Buffer.from(pool.subarray(used, used + n));
  pool.fill(0, used, used + n); // what was handed out does not stay behind in the pool
  used += n;
  return out;
}
