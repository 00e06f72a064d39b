/**
 * Closed-loop load (run in the generator process, bench/generator.ts): autocannon against the
 * service or a ceiling; returns one LoadResult.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { intakeBody, summarize, type LoadResult } from './lib/stats.js';
import type { LoadSpec } from './lib/specs.js';

type Context = Record<string, unknown>;
interface AcRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string;
  setupRequest?: (req: AcRequest, context: Context) => AcRequest | null;
  onResponse?: (status: number, body: string, context: Context) => void;
}
interface AcOptions {
  url: string;
  connections: number;
  duration: number;
  /** ms between autocannon's samples; it stops only at a sample, so a run lasts a whole number of them. */
  sampleInt: number;
  timeout: number;
  requests?: AcRequest[];
}
interface AcResult {
  duration: number;
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: { p50: number; p90: number; p99: number; max: number; average: number };
  requests: { total: number };
}
const autocannon = createRequire(import.meta.url)('autocannon') as (o: AcOptions) => Promise<AcResult>;

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const statuses: Record<string, number> = {};
  const samples: Record<string, number[]> = {};
  const okByKind: Record<string, number> = {};
  let nextPhone = spec.kind === 'intake' ? spec.phoneBase : 0; // never reused, warm-up included

  /** Pull loops only: answers are recorded while now is inside [from, to) (see below). */
  const window = { from: -Infinity, to: Infinity };

  /** Every answer, warm-up and the run's tail included: what the processes' CPU time is divided by. */
  let answered = 0;

  function record(kind: string, status: number, context: Context) {
    answered++;
    const now = performance.now();
    if (now < window.from || now >= window.to) return;
    statuses[status] = (statuses[status] ?? 0) + 1;
    const t0 = context[`t0:${kind}`];
    if (typeof t0 === 'number') (samples[kind] ??= []).push(now - t0);
    // A pull answered 204 claimed nothing: claims are the 200s, as the raw loop counts rows.
    const ok = kind === 'pull' ? status === 200 : status >= 200 && status < 300;
    if (ok) okByKind[kind] = (okByKind[kind] ?? 0) + 1;
  }

  function requestsFor(s: LoadSpec): { url: string; requests?: AcRequest[] } {
    if (s.kind === 'get') return { url: s.url };
    if (s.kind === 'intake') {
      const u = new URL(s.url);
      return {
        url: u.origin,
        requests: [
          {
            method: 'POST',
            path: u.pathname,
            setupRequest: (req, context) => {
              const i = nextPhone++;
              context['t0:intake'] = performance.now();
              const headers: Record<string, string> = { 'content-type': 'application/json' };
              if (s.idempotencyKeys) headers['idempotency-key'] = `bench-${i}`;
              return {
                ...req,
                headers,
                body: intakeBody(s.domain, i, s.slotStarts[i % s.slotStarts.length]!),
              };
            },
            onResponse: (status, _body, context) => record('intake', status, context),
          },
        ],
      };
    }
    // Pull next: each loop borrows a free informateur token, pulls, and reports the outcome with it.
    const free = [...s.tokens];
    const release = (context: Context) => {
      if (typeof context.token === 'string') free.push(context.token);
      context.token = undefined;
    };
    return {
      url: s.url,
      requests: [
        {
          method: 'POST',
          path: '/v1/agents/me/next',
          setupRequest: (req, context) => {
            context.token ??= free.pop() ?? s.tokens[Math.floor(Math.random() * s.tokens.length)];
            context['t0:pull'] = performance.now();
            return { ...req, headers: { authorization: `Bearer ${String(context.token)}` } };
          },
          onResponse: (status, body, context) => {
            record('pull', status, context);
            context.reference = status === 200 ? (JSON.parse(body) as { reference: string }).reference : null;
            if (status !== 200) release(context);
          },
        },
        {
          method: 'POST',
          setupRequest: (req, context) => {
            if (typeof context.reference !== 'string') return null; // 204: next loop pulls again
            context['t0:outcome'] = performance.now();
            return {
              ...req,
              path: `/v1/callbacks/${context.reference}/outcome`,
              headers: {
                authorization: `Bearer ${String(context.token)}`,
                'content-type': 'application/json',
              },
              body: '{"outcome":"reached"}',
            };
          },
          onResponse: (status, _body, context) => {
            record('outcome', status, context);
            release(context);
          },
        },
      ],
    };
  }

  async function run(durationS: number): Promise<AcResult> {
    const s = spec;
    const { url, requests } = requestsFor(s);
    const connections = s.kind === 'pull' ? s.tokens.length : s.connections;
    return autocannon({
      url,
      connections,
      duration: durationS,
      sampleInt: Math.min(1000, durationS * 1000), // the smoke's half-second runs stop on time
      timeout: 30,
      ...(requests ? { requests } : {}),
    });
  }

  const round = (x: number) => Math.round(x * 100) / 100;
  if (spec.kind === 'pull') return continuousPull(spec);

  const warm = spec.warmupS > 0 ? (await run(spec.warmupS)).requests.total : 0;
  for (const k of Object.keys(statuses)) delete statuses[k];
  for (const k of Object.keys(samples)) delete samples[k];
  for (const k of Object.keys(okByKind)) delete okByKind[k];
  const r = await run(spec.durationS);

  const result: LoadResult = {
    durationS: r.duration,
    total: r.requests.total,
    ok: r['2xx'],
    okPerS: round(r['2xx'] / r.duration),
    errors: r.errors,
    timeouts: r.timeouts,
    statuses: Object.keys(statuses).length > 0 ? statuses : { '2xx': r['2xx'], non2xx: r.non2xx },
    sentWithWarmup: warm + r.requests.total,
    latency: {
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
      mean: r.latency.average,
      count: r.requests.total,
    },
  };
  if (spec.samplesPath) writeFileSync(spec.samplesPath, JSON.stringify(samples));
  return result;

  /**
   * Pull loops run once, warm-up and measurement in one go, and only the answers that arrive in
   * the measured window count, as the raw claim loop measures its ceiling (claim-ceiling.ts). A
   * separate warm-up run left up to 100 pulls and outcomes abandoned in flight when it stopped:
   * the measured run's first pulls queued behind them (250–800 ms at the start of every round,
   * most of the closed loop's p99), a transition the raw loop never has.
   */
  async function continuousPull(s: LoadSpec): Promise<LoadResult> {
    const started = performance.now();
    window.from = started + s.warmupS * 1000;
    window.to = window.from + s.durationS * 1000;
    const r = await run(s.warmupS + s.durationS);
    const durationS = s.durationS;
    const ok = Object.values(okByKind).reduce((a, b) => a + b, 0);
    const total = Object.values(statuses).reduce((a, b) => a + b, 0);
    const all = Object.values(samples).flat();
    const summary = summarize(all);
    if (s.samplesPath) writeFileSync(s.samplesPath, JSON.stringify(samples));
    return {
      durationS,
      total,
      ok,
      okPerS: round(ok / durationS),
      errors: r.errors,
      timeouts: r.timeouts,
      statuses,
      sentWithWarmup: answered,
      latency: { ...summary, count: all.length },
      byKind: Object.fromEntries(
        Object.entries(samples).map(([kind, xs]) => [
          kind,
          { ...summarize(xs), ok: okByKind[kind] ?? 0, okPerS: round((okByKind[kind] ?? 0) / durationS) },
        ]),
      ),
    };
  }
}
