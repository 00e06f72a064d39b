import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';

/** A browser's preflight for POST /v1/callbacks from `origin`: the allowed origin it is answered. */
async function preflight(t: TestContext, origin: string) {
  const res = await t.app.inject({
    method: 'OPTIONS',
    url: '/v1/callbacks',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
  return res.headers['access-control-allow-origin'];
}

describe('CORS', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let byDefault: TestContext;
  let anyOrigin: TestContext;
  beforeAll(async () => {
    db = await createTestDatabase();
    byDefault = await startTestApp(db.url, 'postgres');
    anyOrigin = await startTestApp(db.url, 'postgres', { env: { CORS_ORIGINS: '*' } });
  });
  afterAll(async () => {
    await byDefault?.close();
    await anyOrigin?.close();
    await db?.drop();
  });

  it('lets the service-public.gouv.fr pages in by default, and no other origin', async () => {
    expect(await preflight(byDefault, 'https://www.service-public.gouv.fr')).toBe(
      'https://www.service-public.gouv.fr',
    );
    expect(await preflight(byDefault, 'https://service-public.gouv.fr')).toBe(
      'https://service-public.gouv.fr',
    );
    expect(await preflight(byDefault, 'https://evil.example')).toBeUndefined();
  });

  it('lets any origin in with CORS_ORIGINS=*', async () => {
    expect(await preflight(anyOrigin, 'https://evil.example')).toBe('*');
  });
});
