import { createCipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openAnswer, sealAnswer } from './idempotency-seal.js';

const answer = { reference: 'RAP-7K3Q9D', cancelToken: 'the-citizens-cancel-token' };

describe('the cancel token kept with an Idempotency-Key', () => {
  it('is sealed, and opened only with the same key', () => {
    const sealed = sealAnswer(answer, 'key-1');
    expect(sealed.cancelToken).toMatch(/^sealed\.v1\./);
    expect(sealed.cancelToken).not.toContain(answer.cancelToken);
    expect(openAnswer(sealed, 'key-1')).toEqual(answer);
    expect(() => openAnswer(sealed, 'key-2')).toThrow();
  });

  it('opens a seal written before the key derivation changed (HKDF, db8f57d), after an upgrade', () => {
    // As the code before db8f57d sealed it, under the same prefix.
    const key = Buffer.from(hkdfSync('sha256', 'key-1', 'rappel/idempotency/v1', 'cancel-token', 32));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const sealed = Buffer.concat([cipher.update(answer.cancelToken, 'utf8'), cipher.final()]);
    const blob = Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
    expect(openAnswer({ ...answer, cancelToken: `sealed.v1.${blob}` }, 'key-1')).toEqual(answer);
  });

  it('passes a token kept in clear before migration 0005 through', () => {
    expect(openAnswer(answer, 'key-1')).toEqual(answer);
  });
});
