/** What one benchmark run does: the full run, or the smoke run CI uses to keep the script working. */
export interface BenchSettings {
  smoke: boolean;
  /** Seconds of load before each measurement (JIT, pools, caches), then seconds measured. */
  warmupS: number;
  durationS: number;
  /** Informateurs created through the ops API; also the pull-next concurrency. */
  agents: number;
  /** Queued callbacks waiting before each pull-next run. */
  queued: number;
  /** Callbacks in the tables for the scale phase; null skips it. */
  scaleTotal: number | null;
  intakeConnections: number;
  slotsConnections: number;
  /** Fixed offered load of the open-loop intake run. */
  fixedRate: number;
  /** Paced pull run: mean pause of each informateur between two calls (ms). */
  pullPauseMs: number;
  /** Each measurement and its ceiling alternate in this many rounds (durationS in all). */
  rounds: number;
  /** Pool sizes the raw claim ceiling is measured with (the best one is the ceiling). */
  claimPools: number[];
  /** Asap requests of the dispatch-latency scenario, sent at asapPerSecond. */
  asapCallbacks: number;
  asapPerSecond: number;
  /** Business clock the service starts on: inside opening hours, or (smoke) just before DISPATCH_WINDOW. */
  appNow: string;
  /**
   * The clock the service restarts on for the dispatch scenario, measured last (full run: on the
   * grown tables), a few seconds before DISPATCH_WINDOW. null (smoke): no restart, the service
   * starts on such a clock (appNow) and the dispatch scenario is measured first.
   */
  dispatchAppNow: string | null;
}

/** A Monday's 08:30 window: the dispatch scenario's slot callbacks become due at its start. */
export const DISPATCH_WINDOW = '2026-12-07T08:30:00+01:00';
/** `--only` runs one scenario, without the dispatch one, on a Monday the centre is open. */
export const ONLY_APP_NOW = '2026-11-30T08:31:00+01:00';
export const DOMAIN = 'travail';
export const OPS_TOKEN = 'rappel-bench-ops-token-not-a-secret';
export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const BENCH_DB = 'rappel_bench';
/** Capacity of each window = agents × this: ample, so intake never meets SLOT_FULL. */
export const CALLBACKS_PER_AGENT_PER_SLOT = 100;
export const POOL_MAX = 10; // the service's pool (src/runtime.ts): the ceilings use the same

export function benchDatabaseUrl(): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${BENCH_DB}`;
  return u.toString();
}

export function settingsFor(smoke: boolean): BenchSettings {
  if (smoke) {
    return {
      smoke,
      warmupS: 0,
      durationS: 0.3,
      agents: 10,
      queued: 2_000,
      scaleTotal: null,
      intakeConnections: 10,
      slotsConnections: 10,
      fixedRate: 200,
      pullPauseMs: 100,
      rounds: 1,
      claimPools: [10],
      asapCallbacks: 5,
      asapPerSecond: 20,
      // 15 s of head start: the service must be up and the burst booked before 08:30 on its
      // clock (with 2 s, a CI run on a loaded machine booked too late: SLOT_NOT_AVAILABLE).
      appNow: '2026-12-07T08:29:45+01:00',
      dispatchAppNow: null,
    };
  }
  return {
    smoke,
    warmupS: 3,
    durationS: 12,
    agents: 100,
    queued: 100_000,
    scaleTotal: 1_000_000,
    intakeConnections: 50,
    slotsConnections: 50,
    fixedRate: 500,
    pullPauseMs: 500,
    rounds: 3,
    claimPools: [10, 50],
    asapCallbacks: 50,
    asapPerSecond: 5,
    appNow: '2026-11-30T08:31:00+01:00',
    dispatchAppNow: '2026-12-07T08:29:40+01:00',
  };
}

/** The targets of the performance issue, checked (reported, never enforced) at the end. */
export const TARGETS = {
  intakeRatio: 0.7,
  intakeP99At500Ms: 50,
  slotsRatio: 0.5,
  pullRatio: 0.7,
  pullP99Ms: 25,
  scaleKeep: 0.8,
  dispatchP99Ms: 1000,
  apiRssMb: 200,
} as const;
