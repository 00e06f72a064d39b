import { OPS_TOKEN } from './rappel.js';

export interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
  ms: number;
}

/** One HTTP call to a child process; throws on no answer (refused, reset, timeout). */
export async function call(
  baseUrl: string,
  method: string,
  url: string,
  opts: { body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Reply> {
  const started = Date.now();
  const res = await fetch(`${baseUrl}${url}`, {
    method,
    headers: {
      ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...opts.headers,
    },
    body: opts.body === undefined ? null : JSON.stringify(opts.body),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { raw: text };
  }
  return { status: res.status, body, headers: res.headers, ms: Date.now() - started };
}

export const asOps = { authorization: `Bearer ${OPS_TOKEN}` };

export async function createAgent(
  baseUrl: string,
  domains: string[],
): Promise<{ id: string; token: string }> {
  const r = await call(baseUrl, 'POST', '/v1/agents', {
    headers: asOps,
    body: { displayName: `Informateur ${domains.join('+')}`, domains },
  });
  if (r.status !== 201) throw new Error(`createAgent: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as { id: string; token: string };
}

export async function setAgentStatus(baseUrl: string, token: string, status: string): Promise<void> {
  const r = await call(baseUrl, 'PUT', '/v1/agents/me/status', {
    headers: { authorization: `Bearer ${token}` },
    body: { status },
  });
  if (r.status !== 200) throw new Error(`setAgentStatus: ${r.status} ${JSON.stringify(r.body)}`);
}

/** /readyz status, or 0 when the process does not answer. */
export async function readyz(baseUrl: string): Promise<number> {
  try {
    return (await call(baseUrl, 'GET', '/readyz', { timeoutMs: 5_000 })).status;
  } catch {
    return 0;
  }
}
