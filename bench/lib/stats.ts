import type { ClaimResult } from './specs.js';

/** Latency summary in milliseconds. */
export interface Latency {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  count: number;
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentiles of raw samples (ms). */
export function summarize(samples: number[]): Latency {
  if (samples.length === 0) return { p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN, count: 0 };
  const s = Float64Array.from(samples).sort();
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    p50: round(at(50)),
    p90: round(at(90)),
    p99: round(at(99)),
    max: round(s[s.length - 1]!),
    mean: round(sum / s.length),
    count: s.length,
  };
}

/** What every load generator reports. */
export interface LoadResult {
  durationS: number;
  /** Requests completed, and those answered 2xx. */
  total: number;
  ok: number;
  okPerS: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
  latency: Latency;
  /** Per request kind, when a run mixes kinds (pull next and outcome). */
  byKind?: Record<string, Latency & { ok: number; okPerS: number }>;
  offeredPerS?: number;
  /** Requests sent including the warm-up: what the processes' CPU time is divided by. */
  sentWithWarmup?: number;
  /** CPU time (user + system) each process under test spent per request, warm-up included. */
  cpuMsPerRequest?: Record<string, number>;
  /** Shares of what the service's busy PostgreSQL connections were doing (sampled). */
  dbWaits?: Record<string, number>;
  /** WAL the cluster wrote per request, warm-up included: kB, and the kB of it that were whole pages. */
  walPerRequest?: Record<string, number>;
}

export const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 1000) / 1000 : NaN);

/** French mobiles outside the seeded +33 61 range: 06 0/2/4–8 and 07 3–9 (10^7 numbers each). */
const LOAD_PREFIXES = [
  '060',
  '062',
  '064',
  '065',
  '066',
  '067',
  '068',
  '073',
  '074',
  '075',
  '076',
  '077',
  '078',
  '079',
];

/** The n-th load-generator phone, written the way citizens type it: "06 01 23 45 67". */
export function loadPhone(n: number): string {
  const prefix = LOAD_PREFIXES[Math.floor(n / 1e7) % LOAD_PREFIXES.length]!;
  const d = prefix + String(n % 1e7).padStart(7, '0');
  return `${d.slice(0, 2)} ${d.slice(2, 4)} ${d.slice(4, 6)} ${d.slice(6, 8)} ${d.slice(8)}`;
}

/** The body of one slot booking, as service-public.gouv.fr sends it. */
export function intakeBody(domain: string, phoneN: number, slotStart: string): string {
  return JSON.stringify({
    domain,
    phone: loadPhone(phoneN),
    mode: 'slot',
    slotStart,
    ficheId: 'F2258',
    subject: 'préavis de démission',
    consent: true,
  });
}

type Samples = Record<string, number[]>;

function pooled(samples: Samples[], kind: string): number[] {
  return samples.flatMap((s) => s[kind] ?? []);
}

function weighted(parts: (Record<string, number> | undefined)[], weights: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  const total = weights.reduce((a, b) => a + b, 0) || 1;
  parts.forEach((p, i) => {
    for (const [k, v] of Object.entries(p ?? {})) out[k] = (out[k] ?? 0) + (v * weights[i]!) / total;
  });
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, round(v, 3)]));
}

/** WAL per request over the rounds; whole pages only if every round could count them. */
function walMerged(rounds: LoadResult[], sent: number[]): Record<string, number> {
  const merged = weighted(
    rounds.map((r) => r.walPerRequest),
    sent,
  );
  if (rounds.some((r) => r.walPerRequest?.wholePagesKB === undefined)) delete merged.wholePagesKB;
  return merged;
}

/** Without raw samples (autocannon GET runs keep none): each percentile averaged over the rounds, weighted by requests. */
function averaged(rounds: LoadResult[]): Latency {
  const n = rounds.reduce((a, r) => a + r.latency.count, 0) || 1;
  const avg = (k: keyof Latency) => round(rounds.reduce((a, r) => a + r.latency[k] * r.latency.count, 0) / n);
  return {
    p50: avg('p50'),
    p90: avg('p90'),
    p99: avg('p99'),
    max: Math.max(...rounds.map((r) => r.latency.max)),
    mean: avg('mean'),
    count: n,
  };
}

/**
 * One result from the rounds of an interleaved measurement: counts and durations added, rates
 * over the total time, latencies summarized from the pooled raw samples of every round (or, without
 * samples, averaged).
 */
export function mergeLoadRounds(rounds: LoadResult[], samples: Samples[]): LoadResult {
  const sum = (f: (r: LoadResult) => number) => rounds.reduce((a, r) => a + f(r), 0);
  const durationS = round(sum((r) => r.durationS));
  const statuses: Record<string, number> = {};
  for (const r of rounds)
    for (const [k, n] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
  const sent = rounds.map((r) => r.sentWithWarmup ?? r.total);
  const kinds = [...new Set(rounds.flatMap((r) => Object.keys(r.byKind ?? {})))];
  const sampled = [...new Set(samples.flatMap((x) => Object.keys(x)))];
  const okOf = (k: string) => sum((r) => r.byKind?.[k]?.ok ?? 0);
  // Open-loop rounds: the offered rate over the whole measured time.
  const offered = rounds.every((r) => r.offeredPerS !== undefined)
    ? { offeredPerS: round(sum((r) => r.offeredPerS! * r.durationS) / durationS) }
    : {};
  return {
    durationS,
    ...offered,
    total: sum((r) => r.total),
    ok: sum((r) => r.ok),
    okPerS: round(sum((r) => r.ok) / durationS),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    statuses,
    sentWithWarmup: sent.reduce((a, b) => a + b, 0),
    latency: sampled.length > 0 ? summarize(sampled.flatMap((k) => pooled(samples, k))) : averaged(rounds),
    ...(kinds.length > 0
      ? {
          byKind: Object.fromEntries(
            kinds.map((k) => [
              k,
              { ...summarize(pooled(samples, k)), ok: okOf(k), okPerS: round(okOf(k) / durationS) },
            ]),
          ),
        }
      : {}),
    cpuMsPerRequest: weighted(
      rounds.map((r) => r.cpuMsPerRequest),
      sent,
    ),
    dbWaits: weighted(
      rounds.map((r) => r.dbWaits),
      rounds.map((r) => r.durationS),
    ),
    walPerRequest: walMerged(rounds, sent),
  };
}

/** The raw claim loop's rounds as one result (see mergeLoadRounds). */
export function mergeClaimRounds(rounds: ClaimResult[], samples: Samples[]): ClaimResult {
  const durationS = round(rounds.reduce((a, r) => a + r.durationS, 0));
  const claims = rounds.reduce((a, r) => a + r.claims, 0);
  return {
    durationS,
    claims,
    claimsPerS: round(claims / durationS),
    empty: rounds.reduce((a, r) => a + r.empty, 0),
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    firstError: rounds.find((r) => r.firstError)?.firstError ?? null,
    latency: summarize(pooled(samples, 'claim')),
  };
}
