import type { FastifyInstance } from 'fastify';
import { OPS_TOKEN } from './runtime.js';

export const ops = { authorization: `Bearer ${OPS_TOKEN}` };

export async function createAgent(
  app: FastifyInstance,
  domains: string[],
  displayName = 'Agent',
): Promise<{ id: string; token: string }> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/agents',
    headers: ops,
    payload: { displayName, domains },
  });
  if (res.statusCode !== 201) throw new Error(`createAgent: ${res.statusCode} ${res.body}`);
  return res.json();
}

export async function setStatus(
  app: FastifyInstance,
  token: string,
  status: 'available' | 'paused' | 'offline',
) {
  const res = await app.inject({
    method: 'PUT',
    url: '/v1/agents/me/status',
    headers: { authorization: `Bearer ${token}` },
    payload: { status },
  });
  if (res.statusCode !== 200) throw new Error(`setStatus: ${res.statusCode} ${res.body}`);
}

// Random start: numbers differ between runs, so nothing keyed on a phone carries over.
// Mainland mobiles only (06 40 … – 06 87 …): 06 39 is Mayotte, 06 90–06 99 overseas.
let phoneCounter = 40_000_000 + Math.floor(Math.random() * 47_000_000);
/** A distinct valid mobile number per call. */
export function nextPhone(): string {
  phoneCounter += 1;
  return `06${String(phoneCounter).padStart(8, '0')}`;
}

export function booking(overrides: Record<string, unknown> = {}) {
  return {
    domain: 'travail',
    phone: nextPhone(),
    mode: 'slot',
    slotStart: '2026-11-23T09:00:00+01:00',
    ficheId: 'F2258',
    subject: 'préavis de démission',
    consent: true,
    ...overrides,
  };
}

/** Books a window of this domain (201 expected): the callback's reference. */
export async function bookSlot(app: FastifyInstance, domain: string, slotStart: string): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/callbacks',
    payload: booking({ domain, slotStart }),
  });
  if (res.statusCode !== 201) throw new Error(`bookSlot: ${res.statusCode} ${res.body}`);
  return res.json().reference as string;
}

/** GET /v1/callbacks/{reference} as ops: the callback with its history. */
export async function opsView(app: FastifyInstance, reference: string) {
  return (await app.inject({ url: `/v1/callbacks/${reference}`, headers: ops })).json();
}

/** POST /v1/closures as ops: the response, whose status the test asserts. */
export function postClosure(app: FastifyInstance, payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/v1/closures', headers: ops, payload });
}

/** DELETE /v1/closures/{id} as ops: the response. */
export function deleteClosure(app: FastifyInstance, id: string) {
  return app.inject({ method: 'DELETE', url: `/v1/closures/${id}`, headers: ops });
}
