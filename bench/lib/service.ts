import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startChild, stopChild, waitUntil, type Child, type RssSampler } from './procs.js';
import { benchDatabaseUrl, CALLBACKS_PER_AGENT_PER_SLOT, OPS_TOKEN, REDIS_URL } from './settings.js';

/** The service as production runs it: built JavaScript, API and worker in separate processes. */
export interface Service {
  api: Child;
  worker: Child;
  url: string;
  appNow: string;
  queuePrefix: string;
  /** Business clock minus wall clock, per process, read from its APP_NOW log line. */
  offsetMs: { api: number; worker: number };
}

export interface ServiceOptions {
  appNow: string;
  queuePrefix: string;
  port: number;
  logDir: string;
  tag: string;
  extraEnv?: Record<string, string>;
  apiNodeArgs?: string[];
}

function serviceEnv(role: 'api' | 'worker', o: ServiceOptions): NodeJS.ProcessEnv {
  // Only what the service reads, so a developer's shell (APP_NOW, NODE_ENV, ...) cannot leak in.
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'benchmark', // production-like, but APP_NOW is refused when NODE_ENV=production
    APP_ROLE: role,
    PORT: String(o.port),
    HOST: '127.0.0.1',
    DATABASE_URL: benchDatabaseUrl(),
    REDIS_URL,
    QUEUE_PREFIX: o.queuePrefix,
    OPS_API_TOKEN: OPS_TOKEN,
    APP_NOW: o.appNow,
    LOG_LEVEL: 'warn',
    SEED_DEMO: 'false',
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
    RATE_LIMIT_PER_PHONE_PER_DAY: '0',
    CALLBACKS_PER_AGENT_PER_SLOT: String(CALLBACKS_PER_AGENT_PER_SLOT),
    BOOKING_HORIZON_DAYS: '14',
    ...o.extraEnv,
  };
}

function clockOffset(child: Child, appNow: string): number | null {
  let text = '';
  try {
    text = readFileSync(child.logPath, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('APP_NOW set')) continue;
    const t = (JSON.parse(line) as { time?: number }).time;
    if (typeof t === 'number') return Date.parse(appNow) - t;
  }
  return null;
}

/**
 * Starts the worker, then the API a moment later. Each process starts its APP_NOW clock when it
 * has booted, so their business clocks differ by the gap between the two boots: the worker's
 * must run ahead (a due job the API timed must never reach a worker that thinks it early), by as
 * little as possible (its reconciler sweeps must not queue callbacks early). Started again with a
 * longer gap when the worker's clock came out behind. The skew is measured and corrected for.
 */
/** The V8 flags `npm start` and the Dockerfile run the service with (package.json). */
const NODE_FLAGS = ['--max-semi-space-size=16', '--max-old-space-size=160'];

export async function startService(o: ServiceOptions, rss: RssSampler): Promise<Service> {
  for (let attempt = 1, gapMs = 300; ; attempt++, gapMs *= 2) {
    const tag = attempt === 1 ? o.tag : `${o.tag}${attempt}`; // a log file per process
    const worker = startChild(
      `worker-${tag}`,
      [...NODE_FLAGS, 'dist/src/worker.js'],
      serviceEnv('worker', o),
      o.logDir,
    );
    rss.track('worker', worker);
    await sleep(gapMs);
    const api = startChild(
      `api-${tag}`,
      [...NODE_FLAGS, ...(o.apiNodeArgs ?? []), 'dist/src/server.js'],
      serviceEnv('api', o),
      o.logDir,
    );
    rss.track('api', api);
    const url = `http://127.0.0.1:${o.port}`;
    await waitUntil('the API', async () => (await fetch(`${url}/readyz`)).status === 200, 60_000, api);
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      // The worker schedules its repeatable jobs right after its start-up sweep, then runs.
      const scheduler = `${o.queuePrefix}:jobs:repeat:reconcile`;
      await waitUntil('the worker', async () => (await redis.exists(scheduler)) === 1, 60_000, worker);
    } finally {
      redis.disconnect();
    }
    const apiOffset = clockOffset(api, o.appNow);
    const workerOffset = clockOffset(worker, o.appNow);
    if (apiOffset === null || workerOffset === null) throw new Error('APP_NOW log line not found');
    const service = { api, worker, url, appNow: o.appNow, queuePrefix: o.queuePrefix };
    if (workerOffset >= apiOffset || attempt >= 4) {
      return { ...service, offsetMs: { api: apiOffset, worker: workerOffset } };
    }
    await stopService({ ...service, offsetMs: { api: apiOffset, worker: workerOffset } }, rss);
  }
}

export async function stopService(s: Service, rss: RssSampler): Promise<void> {
  rss.untrack(s.api);
  rss.untrack(s.worker);
  await Promise.all([stopChild(s.api), stopChild(s.worker)]);
}

/** Warnings and errors the service logged, by message: a benchmark run should have none. */
export function logProblems(children: Child[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of children) {
    let text = '';
    try {
      text = readFileSync(c.logPath, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const e = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
        if ((e.level ?? 0) < 40 || e.msg?.startsWith('APP_NOW set')) continue;
        const key = `${c.name.split('-')[0]}: ${e.msg ?? '?'}${e.err?.message ? ` (${e.err.message})` : ''}`;
        counts[key] = (counts[key] ?? 0) + 1;
      } catch {
        // not a pino line
      }
    }
  }
  return counts;
}

/** Removes every Redis key of this run's queue prefixes. */
export async function purgeRedis(prefixBase: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefixBase}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
