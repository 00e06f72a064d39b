/**
 * Paced pull next: each informateur loops pull -> outcome -> pause (random, mean `pauseMs`),
 * as a desk does between calls, and each request's latency is timed on its own. Unlike a
 * closed loop without pause, a request does not wait behind the other informateurs' by
 * construction. Runs in the generator process (bench/generator.ts); returns one LoadResult.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { summarize, type LoadResult } from './lib/stats.js';
import type { PacedPullSpec } from './lib/specs.js';

export async function runPacedPull(spec: PacedPullSpec): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: spec.tokens.length });
  const base = new URL(spec.url);

  function post(path: string, token: string, body?: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: base.hostname,
          port: base.port,
          path,
          method: 'POST',
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body
              ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
              : {}),
          },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  let measuring = false;
  const samples: Record<string, number[]> = { pull: [], outcome: [] };
  const ok: Record<string, number> = { pull: 0, outcome: 0 };
  const statuses: Record<string, number> = {};
  let errors = 0;

  async function timed(kind: string, f: () => Promise<{ status: number; body: string }>) {
    const t0 = performance.now();
    try {
      const r = await f();
      if (measuring) {
        samples[kind]!.push(performance.now() - t0);
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status >= 200 && r.status < 300) ok[kind]! += 1;
      }
      return r;
    } catch {
      if (measuring) errors += 1;
      return null;
    }
  }

  async function informateur(token: string, until: number) {
    // Start spread over one pause, so the desks do not begin in step.
    await sleep(Math.random() * spec.pauseMs);
    while (performance.now() < until) {
      const pulled = await timed('pull', () => post('/v1/agents/me/next', token));
      if (pulled?.status === 200) {
        const { reference } = JSON.parse(pulled.body) as { reference: string };
        await timed('outcome', () =>
          post(`/v1/callbacks/${reference}/outcome`, token, '{"outcome":"reached"}'),
        );
      }
      await sleep(Math.random() * 2 * spec.pauseMs);
    }
  }

  const start = performance.now();
  const end = start + (spec.warmupS + spec.durationS) * 1000;
  setTimeout(() => {
    measuring = true;
  }, spec.warmupS * 1000);
  await Promise.all(spec.tokens.map((t) => informateur(t, end)));
  agent.destroy();

  const durationS = spec.durationS;
  const round = (x: number) => Math.round(x * 100) / 100;
  const all = [...samples.pull!, ...samples.outcome!];
  const total = all.length;
  const result: LoadResult = {
    durationS,
    total,
    ok: ok.pull! + ok.outcome!,
    okPerS: round((ok.pull! + ok.outcome!) / durationS),
    errors,
    timeouts: 0,
    statuses,
    latency: summarize(all),
    byKind: Object.fromEntries(
      Object.entries(samples).map(([k, xs]) => [
        k,
        { ...summarize(xs), ok: ok[k]!, okPerS: round(ok[k]! / durationS) },
      ]),
    ),
  };
  return result;
}
