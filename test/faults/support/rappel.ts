import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { DateTime } from 'luxon';
import { freePort, spawnRappel, type Child } from '../../support/processes.js';

export const OPS_TOKEN = 'faults-ops-token-0123456789';
const GUARD = pathToFileURL(path.resolve(import.meta.dirname, 'orphan-guard.mjs')).href;

/**
 * Business time shared by the processes of one test: each child gets APP_NOW = this clock's
 * current instant when it is spawned, so children started at different moments agree.
 * `set` moves business time (a later child starts at the new instant).
 */
export class BusinessClock {
  private anchor: DateTime;
  private at: number;
  constructor(start: string) {
    this.anchor = DateTime.fromISO(start, { setZone: true });
    this.at = Date.now();
  }
  now(): DateTime {
    return this.anchor.plus({ milliseconds: Date.now() - this.at });
  }
  set(instant: string): void {
    this.anchor = DateTime.fromISO(instant, { setZone: true });
    this.at = Date.now();
  }
  /** Wall-clock milliseconds until a business instant (negative once past). */
  msUntil(instant: string): number {
    return DateTime.fromISO(instant, { setZone: true }).toMillis() - this.now().toMillis();
  }
}

/** What the processes of one test share: database, queue backend and namespace, clock. */
export interface Stack {
  databaseUrl: string;
  /** null: BullMQ on its PostgreSQL backend. */
  redisUrl: string | null;
  prefix: string;
  clock: BusinessClock;
  /** Extra settings for every process of the stack. */
  env?: Record<string, string>;
}

export function newPrefix(): string {
  return `f${randomBytes(4).toString('hex')}`;
}

export type Role = 'api' | 'worker' | 'all';

const stacksUsed = new Set<Stack>();

/** The stacks processes were started on since the last call (to clear their queues after). */
export function takeStacksUsed(): Stack[] {
  const all = [...stacksUsed];
  stacksUsed.clear();
  return all;
}

export interface Started extends Child {
  readonly role: Role;
}

/** Spawns `node --import tsx src/server.ts` with the stack's settings; resolves once started. */
export async function startRappel(
  stack: Stack,
  role: Role,
  opts: { name?: string; env?: Record<string, string | undefined>; wait?: boolean } = {},
): Promise<Started> {
  stacksUsed.add(stack);
  const port = await freePort();
  const child = spawnRappel({
    name: opts.name ?? `${role}:${port}`,
    env: {
      NODE_ENV: 'test',
      NODE_OPTIONS: `--import=${GUARD}`,
      LOG_LEVEL: 'info',
      APP_ROLE: role,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: stack.databaseUrl,
      REDIS_URL: stack.redisUrl ?? undefined,
      QUEUE_PREFIX: stack.prefix,
      OPS_API_TOKEN: OPS_TOKEN,
      APP_NOW: stack.clock.now().toISO()!,
      SEED_DEMO: 'false',
      RATE_LIMIT_PER_IP_PER_MINUTE: '0',
      RATE_LIMIT_PER_PHONE_PER_DAY: '0',
      MIN_NOTICE_MINUTES: '0',
      CALLBACKS_PER_AGENT_PER_SLOT: '100',
      JOB_LOCK_MS: '2000',
      SHUTDOWN_TIMEOUT_MS: '20000',
      ...stack.env,
      ...opts.env,
    },
  });
  const started = Object.assign(child, { role });
  if (opts.wait !== false) await waitStarted(started);
  return started;
}

/** Waits for the "rappel started" line (logged once the API listens and the worker runs). */
export async function waitStarted(child: Child, timeoutMs = 60_000): Promise<void> {
  await waitForOutput(child, /"msg":"rappel started"/, timeoutMs);
}

export async function waitForOutput(child: Child, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(child.output())) {
    if (child.hasExited()) {
      throw new Error(
        `${child.name} exited (${await child.exited}) while waiting for ${pattern}:\n${child.output()}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`${child.name}: no ${pattern} within ${timeoutMs} ms:\n${child.output()}`);
    await sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until `probe` returns a value (not undefined); the error names what was awaited. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = ` (last error: ${(err as Error).message})`;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError}`);
    await sleep(100);
  }
}

/** With FAULTS_DEBUG set, prints how long each phase of a test took. */
export function phases(name: string): (label: string) => void {
  let last = Date.now();
  return (label) => {
    if (process.env.FAULTS_DEBUG) console.log(`[${name}] ${label}: ${Date.now() - last} ms`);
    last = Date.now();
  };
}
