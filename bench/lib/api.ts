import { OPS_TOKEN } from './settings.js';
import { loadPhone } from './stats.js';

/** Setup calls to the service's API (not measured): fetch, a few at a time. */
async function call<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
}

export async function inBatches<T, R>(items: T[], size: number, fn: (x: T, i: number) => Promise<R>) {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await Promise.all(items.slice(i, i + size).map((x, j) => fn(x, i + j)))));
  }
  return out;
}

export interface Informateur {
  id: string;
  token: string;
}

/** Informateurs created through the ops API, as ops would: each gets its bearer token once. */
export async function createInformateurs(base: string, n: number, domain: string): Promise<Informateur[]> {
  return inBatches([...Array(n).keys()], 10, async (i) => {
    const r = await call<{ id: string; token: string }>(
      base,
      'POST',
      '/v1/agents',
      { displayName: `Informateur ${i + 1}`, domains: [domain] },
      OPS_TOKEN,
    );
    if (r.status !== 201) throw new Error(`POST /v1/agents answered ${r.status}`);
    return { id: r.json.id, token: r.json.token };
  });
}

export async function setAvailable(base: string, who: Informateur[]): Promise<void> {
  await inBatches(who, 10, async (a) => {
    const r = await call(base, 'PUT', '/v1/agents/me/status', { status: 'available' }, a.token);
    if (r.status !== 200) throw new Error(`PUT /v1/agents/me/status answered ${r.status}`);
  });
}

export async function slotListing(base: string, domain: string): Promise<{ body: string; starts: string[] }> {
  const res = await fetch(`${base}/v1/slots?domain=${domain}&days=14`);
  const body = await res.text();
  if (res.status !== 200) throw new Error(`GET /v1/slots answered ${res.status}: ${body.slice(0, 200)}`);
  const starts = (JSON.parse(body) as { slots: { start: string }[] }).slots.map((s) => s.start);
  return { body, starts };
}

export interface Booked {
  status: number;
  id: string | null;
  code: string | null;
}

export async function book(
  base: string,
  domain: string,
  phoneN: number,
  mode: 'slot' | 'asap',
  slotStart?: string,
): Promise<Booked> {
  const r = await call<{ id?: string; code?: string }>(base, 'POST', '/v1/callbacks', {
    domain,
    phone: loadPhone(phoneN),
    mode,
    ...(slotStart ? { slotStart } : {}),
    consent: true,
  });
  return { status: r.status, id: r.json?.id ?? null, code: r.json?.code ?? null };
}

export async function reportReached(base: string, reference: string, token: string): Promise<number> {
  return (await call(base, 'POST', `/v1/callbacks/${reference}/outcome`, { outcome: 'reached' }, token))
    .status;
}
