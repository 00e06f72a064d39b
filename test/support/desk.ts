import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';

export async function pull(app: FastifyInstance, token: string) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/agents/me/next',
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.statusCode === 204) return null;
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { reference: string; phone: string; domain: string; attempts: number; status: string };
}

export async function outcome(
  app: FastifyInstance,
  token: string,
  reference: string,
  body: Record<string, unknown>,
) {
  return app.inject({
    method: 'POST',
    url: `/v1/callbacks/${reference}/outcome`,
    headers: { authorization: `Bearer ${token}` },
    payload: body,
  });
}
