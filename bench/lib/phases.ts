import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import { type Informateur } from './api.js';
import { clearDesks, countByStatus, seedQueued, setAgentsStatus, settleDatabase } from './database.js';
import { measured, waitQuiet } from './observe.js';
import { freePort, startTsServer, waitUntil, type Child, type Generator, type RssSampler } from './procs.js';
import type { Service } from './service.js';
import {
  benchDatabaseUrl,
  CALLBACKS_PER_AGENT_PER_SLOT,
  DOMAIN,
  POOL_MAX,
  type BenchSettings,
} from './settings.js';
import type { ClaimResult, ClaimSpec, LoadSpec, OpenLoopSpec, PacedPullSpec } from './specs.js';
import { mergeClaimRounds, mergeLoadRounds, type LoadResult } from './stats.js';

/** Everything the scenarios share during one run. */
export interface Run {
  s: BenchSettings;
  logDir: string;
  resultsDir: string;
  rss: RssSampler;
  pool: pg.Pool;
  service: Service;
  serviceChildren: Child[];
  informateurs: Informateur[];
  slotStarts: string[];
  slotsBody: string;
  ceilingUrl: string;
  ceilingPid: number;
  /** The PostgreSQL server's postmaster (its CPU is counted per request), null if not visible. */
  postmasterPid: number | null;
  /** The load generator process (bench/generator.ts). */
  generator: Generator;
  claim: Pick<ClaimSpec, 'sql' | 'params'>;
  /** Next unused load-generator phone number and seed number: every phone of the run is distinct. */
  phoneCursor: number;
  seedCursor: number;
}

/** Business time now, on the API's APP_NOW clock. */
export function businessNow(run: Run): Date {
  return new Date(Date.now() + run.service.offsetMs.api);
}

function takePhones(run: Run): number {
  const base = run.phoneCursor;
  run.phoneCursor += 2_000_000; // more than any run sends
  return base;
}

export function takeSeeds(run: Run, n: number): number {
  const base = run.seedCursor;
  run.seedCursor += n;
  if (run.seedCursor > 9_999_999) throw new Error('seed numbers exhausted (phones +33 61 …)');
  return base;
}

/**
 * Tops the queue up to `s.queued` callbacks and clears out dead row versions, so every pull-next
 * run starts from the same queue.
 */
export async function refillQueue(run: Run): Promise<void> {
  const missing = run.s.queued - ((await countByStatus(run.pool)).queued ?? 0);
  if (missing > 0) {
    await seedQueued(run.pool, takeSeeds(run, missing), missing, businessNow(run).toISOString(), DOMAIN);
  }
  await settleDatabase(run.pool);
}

/** The ceiling server (bench/ceiling-server.ts), its own process, started once the slot listing is known. */
export async function startCeilingServer(run: Run): Promise<Child> {
  const bodyPath = path.join(run.logDir, 'slots-body.json');
  writeFileSync(bodyPath, run.slotsBody);
  const port = await freePort();
  const child = startTsServer(
    'ceiling-server',
    'bench/ceiling-server.ts',
    {
      DATABASE_URL: benchDatabaseUrl(),
      PORT: String(port),
      SLOTS_BODY_PATH: bodyPath,
      POOL_MAX: String(POOL_MAX),
      CLOCK_OFFSET_MS: String(run.service.offsetMs.api),
      CALLBACKS_PER_AGENT_PER_SLOT: String(CALLBACKS_PER_AGENT_PER_SLOT),
    },
    run.logDir,
  );
  run.ceilingUrl = `http://127.0.0.1:${port}`;
  run.ceilingPid = child.pid;
  await waitUntil(
    'the ceiling server',
    async () => (await fetch(`${run.ceilingUrl}/healthz`)).ok,
    30_000,
    child,
  );
  return child;
}

type Samples = Record<string, number[]>;
const readSamples = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Samples;

/** A closed-loop measurement and its ceiling, alternated (see measurePull), merged. */
export interface Alternated {
  service: LoadResult;
  ceiling: LoadResult;
  /** Requests per second of each round. */
  rounds: { service: number; ceiling: number }[];
  /** p99 latency (ms) of each round. */
  p99Rounds: { service: number; ceiling: number }[];
}

/** Warm-up and length of round `i` of `s.rounds`: the first round warms the processes up fully. */
function roundTiming(run: Run, i: number): { warmupS: number; durationS: number } {
  return {
    warmupS: i === 1 ? run.s.warmupS : Math.min(1, run.s.warmupS),
    durationS: run.s.durationS / run.s.rounds,
  };
}

/**
 * One load, measured, with the raw latency samples it kept (none for GET): closed loop
 * (bench/load.ts) or a fixed offered rate (bench/open-loop.ts).
 */
async function loadSampled<M extends 'load' | 'open-loop'>(
  run: Run,
  label: string,
  mode: M,
  spec: M extends 'load' ? LoadSpec : OpenLoopSpec,
  target: 'service' | 'ceiling',
): Promise<{ r: LoadResult; x: Samples }> {
  const samplesPath = path.join(run.logDir, `${label}.samples.json`);
  const r = await measured(run, label, target, () =>
    run.generator.run<LoadResult>(label, mode, { ...spec, samplesPath }),
  );
  return { r, x: existsSync(samplesPath) ? readSamples(samplesPath) : {} };
}

async function alternate<M extends 'load' | 'open-loop'>(
  run: Run,
  name: string,
  mode: M,
  specOf: (
    target: 'service' | 'ceiling',
    t: { warmupS: number; durationS: number },
  ) => M extends 'load' ? LoadSpec : OpenLoopSpec,
): Promise<Alternated> {
  const parts = {
    service: [] as { r: LoadResult; x: Samples }[],
    ceiling: [] as { r: LoadResult; x: Samples }[],
  };
  const rounds: Alternated['rounds'] = [];
  const p99Rounds: Alternated['p99Rounds'] = [];
  for (let i = 1; i <= run.s.rounds; i++) {
    const round = { service: 0, ceiling: 0 };
    const p99 = { service: 0, ceiling: 0 };
    for (const target of ['service', 'ceiling'] as const) {
      await settleDatabase(run.pool);
      const label = `${name}${target === 'ceiling' ? '-ceiling' : ''}-${i}`;
      const part = await loadSampled(run, label, mode, specOf(target, roundTiming(run, i)), target);
      parts[target].push(part);
      round[target] = part.r.okPerS;
      p99[target] = part.r.latency.p99;
    }
    rounds.push(round);
    p99Rounds.push(p99);
  }
  const merged = (xs: { r: LoadResult; x: Samples }[]) =>
    mergeLoadRounds(
      xs.map((p) => p.r),
      xs.map((p) => p.x),
    );
  return { service: merged(parts.service), ceiling: merged(parts.ceiling), rounds, p99Rounds };
}

export interface SlotsResult extends Alternated {
  bodyBytes: number;
}

export async function measureSlots(run: Run): Promise<SlotsResult> {
  const connections = run.s.slotsConnections;
  const r = await alternate(run, 'load-slots', 'load', (target, t) => ({
    kind: 'get',
    url:
      target === 'service'
        ? `${run.service.url}/v1/slots?domain=${DOMAIN}&days=14`
        : `${run.ceilingUrl}/slots`,
    connections,
    ...t,
  }));
  return { bodyBytes: Buffer.byteLength(run.slotsBody), ...r };
}

export interface IntakeResult {
  saturation: LoadResult;
  ceiling: LoadResult;
  rounds: Alternated['rounds'];
  fixedRate: LoadResult;
  /** The bare ceiling under the same offered load, alternated with the service's rounds. */
  fixedRateCeiling: LoadResult;
  fixedRateP99Rounds: Alternated['p99Rounds'];
}

export async function measureIntake(run: Run, tag: string): Promise<IntakeResult> {
  const base = {
    warmupS: run.s.warmupS,
    durationS: run.s.durationS,
    domain: DOMAIN,
    slotStarts: run.slotStarts,
    idempotencyKeys: true,
  };
  const sat = await alternate(run, `load-intake-${tag}`, 'load', (target, t) => ({
    kind: 'intake',
    url: target === 'service' ? `${run.service.url}/v1/callbacks` : `${run.ceilingUrl}/intake`,
    connections: run.s.intakeConnections,
    phoneBase: takePhones(run),
    ...base,
    ...t,
  }));
  // The same offered load on the bare ceiling, in alternating rounds: how long this machine's
  // own tail is at that rate, beside the service's.
  const fixed = await alternate(run, `load-intake-fixed-${tag}`, 'open-loop', (target, t) => ({
    url: target === 'service' ? `${run.service.url}/v1/callbacks` : `${run.ceilingUrl}/intake`,
    rate: run.s.fixedRate,
    phoneBase: takePhones(run),
    ...base,
    ...t,
  }));
  return {
    saturation: sat.service,
    ceiling: sat.ceiling,
    rounds: sat.rounds,
    fixedRate: fixed.service,
    fixedRateCeiling: fixed.ceiling,
    fixedRateP99Rounds: fixed.p99Rounds,
  };
}

export interface PullResult {
  /** The service's rounds merged (see measurePull). */
  service: LoadResult;
  /** Small tables only: informateurs pausing between calls (s.pullPauseMs on average). */
  paced: LoadResult | null;
  /** The raw claim statement by pool size, its rounds merged; `best` is the ceiling. */
  ceilings: Record<string, ClaimResult>;
  best: ClaimResult;
  /** Claims per second of each round, to see how much the machine moved during the run. */
  rounds: { service: number; ceilings: Record<string, number> }[];
}

/**
 * Pull next against the raw claim loop, interleaved: `s.rounds` rounds of the service then
 * the raw claim at each pool size, each round as long as a share of `s.durationS`. On this shared
 * machine throughput drifts over a minute (checkpoints, other virtual machines) by more than the
 * gap being measured; rounds put the service and its ceiling under the same drift, and the ratio
 * is of their totals. Latencies are summarized from the pooled samples of every round.
 */
export async function measurePull(run: Run, tag: string): Promise<PullResult> {
  const service: { r: LoadResult; x: Samples }[] = [];
  const claims = new Map<number, { r: ClaimResult; x: Samples }[]>();
  const rounds: PullResult['rounds'] = [];
  for (let i = 1; i <= run.s.rounds; i++) {
    const t = roundTiming(run, i);
    await refillQueue(run);
    const spec: LoadSpec = {
      kind: 'pull',
      url: run.service.url,
      tokens: run.informateurs.map((inf) => inf.token),
      ...t,
    };
    const part = await loadSampled(run, `load-pull-${tag}-${i}`, 'load', spec, 'service');
    service.push(part);
    const round: PullResult['rounds'][number] = { service: part.r.byKind?.pull?.okPerS ?? 0, ceilings: {} };
    for (const poolMax of run.s.claimPools) {
      // The raw claim runs alone: desks emptied, informateurs offline so the worker pushes nothing.
      await setAgentsStatus(run.pool, 'offline');
      await waitQuiet(run);
      await clearDesks(run.pool, businessNow(run).toISOString());
      await refillQueue(run);
      run.rss.phase = `claim-${tag}-${poolMax}`;
      const cname = `claim-${tag}-${poolMax}-${i}`;
      const spec: ClaimSpec = {
        ...run.claim,
        databaseUrl: benchDatabaseUrl(),
        agentIds: run.informateurs.map((inf) => inf.id),
        domains: [DOMAIN],
        poolMax,
        clockOffsetMs: run.service.offsetMs.api,
        leaseMinutes: 30,
        ...t,
        samplesPath: path.join(run.logDir, `${cname}.samples.json`),
      };
      const c = await run.generator.run<ClaimResult>(cname, 'claim', spec);
      claims.set(poolMax, [...(claims.get(poolMax) ?? []), { r: c, x: readSamples(spec.samplesPath!) }]);
      round.ceilings[`pool${poolMax}`] = c.claimsPerS;
    }
    await clearDesks(run.pool, businessNow(run).toISOString());
    rounds.push(round);
  }
  // The same informateurs pausing between calls, at a fraction of the saturated rate: the
  // latency of a desk that is not queueing behind 99 others (see bench/README.md).
  let paced: LoadResult | null = null;
  if (tag === 'small') {
    await refillQueue(run);
    const spec: PacedPullSpec = {
      url: run.service.url,
      tokens: run.informateurs.map((inf) => inf.token),
      pauseMs: run.s.pullPauseMs,
      warmupS: run.s.warmupS,
      durationS: run.s.durationS,
    };
    const name = `load-pull-paced-${tag}`;
    paced = await measured(run, name, 'service', () =>
      run.generator.run<LoadResult>(name, 'pull-paced', spec),
    );
    await clearDesks(run.pool, businessNow(run).toISOString());
  }
  const ceilings: Record<string, ClaimResult> = {};
  for (const [poolMax, rs] of claims) {
    ceilings[`pool${poolMax}`] = mergeClaimRounds(
      rs.map((x) => x.r),
      rs.map((x) => x.x),
    );
  }
  const best = Object.values(ceilings).reduce((a, b) => (b.claimsPerS > a.claimsPerS ? b : a));
  return {
    service: mergeLoadRounds(
      service.map((x) => x.r),
      service.map((x) => x.x),
    ),
    paced,
    ceilings,
    best,
    rounds,
  };
}
