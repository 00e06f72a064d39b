import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import { pooledRandomBytes } from '../random.js';
import { sha256 } from './tokens.js';

/**
 * What `idempotency_keys` keeps of an Idempotency-Key and of its first answer. The answer holds
 * the booking's cancel token, which the contract shows "only here" and which callbacks store
 * only as a hash: kept in clear for the key's 24 hours, anyone who reads the table (a dump, a
 * backup, an ops query) could cancel the citizen's callback or read its masked details. So:
 * - the key is stored as its SHA-256 (`storedKey`): the table alone cannot replay a request;
 * - the cancel token is sealed (AES-256-GCM) with a key derived from the Idempotency-Key
 *   (`sealAnswer`): only the client that presents the same key again can open it.
 * The protection is as strong as the client's key is hard to guess (the service-public pages
 * send random UUIDs). Rows written before migration 0005 hold a token in clear, which `openAnswer`
 * passes through, until they expire.
 */

const SEALED = 'sealed.v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The Idempotency-Key as the table keeps it (migrations/0005 converts older rows the same way). */
export function storedKey(idempotencyKey: string): string {
  return `sha256:${sha256(idempotencyKey).toString('hex')}`;
}

/**
 * HMAC-SHA256 keyed by a fixed label, over the Idempotency-Key: a pseudo-random 256-bit key per
 * Idempotency-Key (HKDF's extract step; measured alone, `hkdfSync` took 11 µs and this 3 µs).
 */
function sealingKey(idempotencyKey: string): Buffer {
  return createHmac('sha256', 'rappel/idempotency/v1/cancel-token').update(idempotencyKey, 'utf8').digest();
}

/**
 * The key of the seals written before db8f57d (HKDF in full), under the same `sealed.v1.`
 * prefix: replaying a key sealed by that code, after an upgrade within its 24 hours, failed the
 * authentication of the new key and answered 500 (outside upgrade test helper-56).
 */
function legacySealingKey(idempotencyKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', idempotencyKey, 'rappel/idempotency/v1', 'cancel-token', 32));
}

/** The answer to store: its cancel token sealed with the Idempotency-Key. */
export function sealAnswer<T extends { cancelToken: string }>(answer: T, idempotencyKey: string): T {
  const iv = pooledRandomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(idempotencyKey), iv);
  const sealed = Buffer.concat([cipher.update(answer.cancelToken, 'utf8'), cipher.final()]);
  const blob = Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
  return { ...answer, cancelToken: `${SEALED}${blob}` };
}

/**
 * The stored answer as first given, opened with the Idempotency-Key presented again (the stored
 * key being its hash, a row found is a row sealed with that key).
 */
export function openAnswer<T extends { cancelToken: string }>(stored: T, idempotencyKey: string): T {
  if (!stored.cancelToken.startsWith(SEALED)) return stored;
  const blob = Buffer.from(stored.cancelToken.slice(SEALED.length), 'base64url');
  const open = (key: Buffer) => {
    const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, IV_BYTES));
    decipher.setAuthTag(blob.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(blob.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  };
  let token: Buffer;
  try {
    token = open(sealingKey(idempotencyKey));
  } catch {
    // GCM authenticates: a wrong key fails, it never opens to another token.
    token = open(legacySealingKey(idempotencyKey));
  }
  return { ...stored, cancelToken: token.toString('utf8') };
}
