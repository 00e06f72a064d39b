import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A bearer or cancel token: 256 random bits, URL-safe. Only its hash is ever stored. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares a presented token with a stored hash in constant time. */
export function tokenMatches(presented: string | undefined, storedHash: Buffer): boolean {
  if (!presented || presented.length > 512) return false;
  const h = sha256(presented);
  return h.length === storedHash.length && timingSafeEqual(h, storedHash);
}

export function constantTimeEquals(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}
