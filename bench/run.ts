/**
 * Rappel benchmark: measures the service against this machine's own ceilings in the same run
 * and reports ratios. `npm run bench` (several minutes) or `npm run bench -- --smoke` (seconds,
 * tiny durations and tables, no 1M phase: CI keeps the script working with it; exit 0 whatever
 * the verdicts). `--cpu-prof` writes a CPU profile of the API process next to the logs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { Redis } from 'ioredis';
import { createInformateurs, slotListing } from './lib/api.js';
import {
  benchPool,
  finishActive,
  recreateDatabase,
  serverVersions,
  setAgentsStatus,
} from './lib/database.js';
import { measureDispatch } from './lib/dispatch-latency.js';
import { captureClaimStatement } from './lib/explain.js';
import {
  businessNow,
  measureIntake,
  measurePull,
  measureSlots,
  refillQueue,
  startCeilingServer,
} from './lib/phases.js';
import type { Run } from './lib/phases.js';
import {
  freePort,
  killAllChildrenNow,
  postmasterOf,
  RssSampler,
  startGenerator,
  stopAllChildren,
} from './lib/procs.js';
import { evaluate, markdown, waitsSummary, walSummary, type Results } from './lib/report.js';
import { explainNow, growTables, tableState, type TableState } from './lib/scale.js';
import { logProblems, purgeRedis, startService, stopService, type Service } from './lib/service.js';
import { DOMAIN, ONLY_APP_NOW, REDIS_URL, settingsFor, TARGETS } from './lib/settings.js';

const smoke = process.argv.includes('--smoke');
const cpuProf = process.argv.includes('--cpu-prof');
/** `--only=intake`, `--only=slots` or `--only=pull`: that scenario alone on small tables, printed, no results file (for working on one path). */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
const ONLY = { intake: measureIntake, slots: measureSlots, pull: measurePull } as const;
if (only !== undefined && !(only in ONLY)) throw new Error(`--only=${only}: intake, slots or pull`);
const s = settingsFor(smoke);
const RESULTS = path.resolve('bench/results');
const prefixBase = `rappelbench${process.pid}`;
const rss = new RssSampler();
const t0 = Date.now();
/** The 1-minute load average at each step: other work on the machine skews a run, this shows it. */
const loadAverages: { step: string; load1: number }[] = [];
const step = (what: string, phase = what) => {
  loadAverages.push({ step: what, load1: Math.round(os.loadavg()[0]! * 100) / 100 });
  rss.phase = phase;
  console.log(
    `[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what} (load average ${os.loadavg()[0]!.toFixed(2)})`,
  );
};

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The full run always builds; the smoke run only when dist/ is older than the sources. */
function ensureBuild(): void {
  if (smoke) {
    try {
      const built = statSync('dist/src/server.js').mtimeMs;
      const sources = Math.max(
        newestMtime('src'),
        newestMtime('migrations'),
        statSync('tsconfig.json').mtimeMs,
      );
      if (built > sources) return step('build: dist/ is up to date');
    } catch {
      // not built yet
    }
  }
  step('build: npm run build');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm run build failed (${r.status})`);
}

async function machine(pool: pg.Pool): Promise<Record<string, unknown>> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  const info = await redis.info('server');
  redis.disconnect();
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpu: os.cpus()[0]?.model.trim() ?? '?',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    ...(await serverVersions(pool)),
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? '?',
  };
}

async function startRappel(logDir: string, tag: string, appNow: string, extraEnv?: Record<string, string>) {
  return startService(
    {
      appNow,
      queuePrefix: `${prefixBase}${tag}`,
      port: await freePort(),
      logDir,
      tag,
      ...(extraEnv ? { extraEnv } : {}),
      ...(cpuProf ? { apiNodeArgs: ['--cpu-prof', `--cpu-prof-dir=${path.join(logDir, 'profiles')}`] } : {}),
    },
    rss,
  );
}

async function main(logDir: string): Promise<void> {
  ensureBuild();
  step(`database: fresh benchmark database; logs in ${logDir}`, 'start');
  // The load generator loads its modules meanwhile (not while the service boots: competing for
  // the cores, it could make the worker's clock come out behind the API's, and a restart).
  const [generator] = await Promise.all([startGenerator(logDir), recreateDatabase()]);
  // The smoke starts its one service a few seconds before a window opens and measures dispatch
  // first (MIN_NOTICE_MINUTES=0 lets the burst book that window up to its start); the full run
  // measures it last, on the grown tables, after a restart on such a clock.
  const dispatchFirst = s.dispatchAppNow === null && only === undefined;
  let service: Service = await startRappel(
    logDir,
    'a',
    only ? ONLY_APP_NOW : s.appNow,
    s.dispatchAppNow === null ? { MIN_NOTICE_MINUTES: '0' } : undefined,
  );
  const pool = benchPool();
  try {
    const run: Run = {
      s,
      logDir,
      resultsDir: RESULTS,
      rss,
      pool,
      service,
      serviceChildren: [service.api, service.worker],
      informateurs: await createInformateurs(service.url, s.agents, DOMAIN),
      slotStarts: [],
      slotsBody: '',
      ceilingUrl: '',
      ceilingPid: 0,
      postmasterPid: postmasterOf(Number((await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid)),
      generator,
      claim: await captureClaimStatement(),
      phoneCursor: 0,
      seedCursor: 0,
    };
    let dispatch: Results['dispatch'] | null = null;
    if (dispatchFirst) {
      step('scenario 5: dispatch latency (from a few seconds before a window opens)', 'dispatch');
      dispatch = await measureDispatch(run);
      // What it left (calls on desks, informateurs waiting) must not meet the next scenarios.
      await finishActive(pool, businessNow(run).toISOString());
      await setAgentsStatus(pool, 'offline');
    }
    const listing = await slotListing(service.url, DOMAIN); // capacity comes with the informateurs
    if (listing.starts.length === 0) throw new Error('no bookable window: check APP_NOW and the calendar');
    run.slotStarts = listing.starts;
    run.slotsBody = listing.body;
    step(`seed: ${s.agents} informateurs, ${s.queued} queued callbacks`, 'seed');
    await Promise.all([refillQueue(run), startCeilingServer(run)]);
    const tables: Record<string, TableState> = {};
    if (only !== undefined) {
      step(`only: ${only}`);
      const r = await ONLY[only as keyof typeof ONLY](run, 'small');
      console.log(JSON.stringify(r, null, 2));
      return;
    }

    step('scenario 2: slot listing');
    const slots = await measureSlots(run);
    step('scenario 1: intake');
    const intakeSmall = await measureIntake(run, 'small');
    step(`scenario 3: pull next, ${s.agents} informateurs`);
    const pullSmall = await measurePull(run, 'small');
    tables.small = await tableState(run);

    let intakeScale = null;
    let pullScale = null;
    let seedSeconds: number | null = null;
    if (s.scaleTotal !== null) {
      step(`scenario 4: growing the tables to ${s.scaleTotal} callbacks`, 'seed-scale');
      seedSeconds = await growTables(run, s.scaleTotal);
      tables.scale = await tableState(run);
      step('scenario 4: intake at scale');
      intakeScale = await measureIntake(run, 'scale');
      step('scenario 4: pull next at scale');
      pullScale = await measurePull(run, 'scale');
      step('scenario 4: EXPLAIN (ANALYZE, BUFFERS) -> bench/results/explain.txt', 'explain');
      await explainNow(run, path.join(RESULTS, 'explain.txt'));
    } else {
      await explainNow(run, path.join(logDir, 'explain-smoke.txt')); // keeps the code path working
    }

    if (s.dispatchAppNow !== null) {
      step('scenario 5: dispatch latency (restart on a clock just before a window opens)', 'dispatch');
      await stopService(service, rss);
      await finishActive(pool, businessNow(run).toISOString());
      await setAgentsStatus(pool, 'offline');
      service = await startRappel(logDir, 'd', s.dispatchAppNow, { MIN_NOTICE_MINUTES: '0' });
      run.service = service;
      run.serviceChildren.push(service.api, service.worker);
      dispatch = await measureDispatch(run);
    }
    await stopService(service, rss);
    if (!dispatch) throw new Error('the dispatch scenario did not run');

    const results: Results = {
      slots,
      intake: { small: intakeSmall, scale: intakeScale },
      pull: { small: pullSmall, scale: pullScale },
      dispatch,
      memory: {
        apiPeakMb: rss.peakMb('api'),
        workerPeakMb: rss.peakMb('worker'),
        byPhaseMb: rss.byPhaseMb(),
      },
    };
    const { verdicts, rows } = evaluate(results);
    const m = await machine(pool);
    const json = {
      machine: m,
      mode: smoke ? 'smoke' : 'full',
      settings: s,
      targets: TARGETS,
      tables,
      seedSeconds,
      results,
      verdicts,
      diagnostics: { serviceLogProblems: logProblems(run.serviceChildren), loadAverages, logDir },
      wallSeconds: Math.round((Date.now() - t0) / 1000),
    };
    const loads = loadAverages.map((l) => l.load1);
    const note =
      `Load average (1 min) at the steps of the run: ${Math.min(...loads)}–${Math.max(...loads)} on ${os.availableParallelism()} cores` +
      (Math.max(...loads) > os.availableParallelism()
        ? ': other work shared the machine, absolute numbers are pessimistic.'
        : '.');
    const md = markdown(rows, m, smoke, note, [...waitsSummary(results), ...walSummary(results)]);
    mkdirSync(RESULTS, { recursive: true });
    const [jsonFile, mdFile] = smoke ? ['smoke.json.tmp', 'smoke.md.tmp'] : ['latest.json', 'latest.md'];
    writeFileSync(path.join(RESULTS, jsonFile), JSON.stringify(json, null, 2) + '\n');
    writeFileSync(path.join(RESULTS, mdFile), md);
    console.log('\n' + md);
    const problems = Object.entries(json.diagnostics.serviceLogProblems);
    if (problems.length > 0)
      console.log(
        'Service warnings during the run:\n' + problems.map(([k, n]) => `  ${n} × ${k}`).join('\n'),
      );
    step(`done: bench/results/${jsonFile}, bench/results/${mdFile}`);
  } finally {
    await pool.end();
  }
}

let cleaning: Promise<void> | null = null;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    rss.stop();
    await stopAllChildren();
    await purgeRedis(prefixBase).catch((err: Error) => console.error(`redis cleanup: ${err.message}`));
  })();
  return cleaning;
}
process.on('exit', killAllChildrenNow);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping everything the benchmark started`);
    void cleanup().finally(() => process.exit(130));
  });
}

const logDir = mkdtempSync(path.join(os.tmpdir(), 'rappel-bench-'));
try {
  await main(logDir);
} catch (err) {
  console.error(`benchmark failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
