import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GeneratorKind } from '../generator.js';
import type { Timing } from './specs.js';

/** A child the benchmark started: every one of them is stopped at the end, error or not. */
export interface Child {
  name: string;
  pid: number;
  logPath: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  done: boolean;
}

const children = new Set<Child>();

export function startChild(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
  opts: { ipc?: boolean } = {},
): Child {
  const logPath = path.join(logDir, `${name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const proc = spawn(process.execPath, args, {
    env,
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${name}`);
  const child: Child = { name, pid: proc.pid, logPath, proc, exited: Promise.resolve(null), done: false };
  proc.stdout!.on('data', (chunk: Buffer) => log.write(chunk));
  proc.stderr!.on('data', (chunk: Buffer) => log.write(chunk));
  child.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      child.done = true;
      children.delete(child);
      log.end();
      resolve(code ?? (signal ? 128 : null));
    });
  });
  children.add(child);
  return child;
}

/** SIGTERM (graceful: the service drains), then SIGKILL if it is still there after `graceMs`. */
export async function stopChild(child: Child, graceMs = 15_000): Promise<void> {
  if (child.done) return;
  child.proc.kill('SIGTERM');
  // Cancelled once the child has exited: a pending grace timer kept the benchmark alive for up
  // to graceMs after its last line (15 s of the CI smoke's 40).
  const grace = new AbortController();
  const timer = sleep(graceMs, 'timeout' as const, { signal: grace.signal }).catch(() => 'exited' as const);
  try {
    if ((await Promise.race([child.exited, timer])) === 'timeout' && !child.done) {
      child.proc.kill('SIGKILL');
      await child.exited;
    }
  } finally {
    grace.abort();
  }
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((c) => stopChild(c, 10_000)));
}

/** Last resort on process exit: nothing the benchmark started may outlive it. */
export function killAllChildrenNow(): void {
  for (const c of children) if (!c.done) c.proc.kill('SIGKILL');
}

const TSX = ['--import', 'tsx'];

/** The load generator process (bench/generator.ts): measurements run in it one at a time. */
export interface Generator {
  child: Child;
  /** Runs one measurement; it is also written to the log directory as `<name>.spec.json`. */
  run<T>(name: string, kind: GeneratorKind, spec: Timing): Promise<T>;
}

type Reply = { id: number; result?: unknown; error?: string; ready?: boolean };

/** A measurement not answered within its warm-up and duration plus this is taken as hung. */
const GENERATOR_SLACK_MS = 120_000;

/**
 * Starts the generator and waits until it has loaded its modules (autocannon, pg). A generator
 * that dies, fails to start, or hangs fails the measurement it owes (and every later one):
 * the benchmark then stops and cleans up instead of waiting forever.
 */
export async function startGenerator(logDir: string): Promise<Generator> {
  const child = startChild('generator', [...TSX, 'bench/generator.ts'], process.env, logDir, { ipc: true });
  const pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  const failAll = (err: Error) => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  let ready: () => void = () => undefined;
  const started = new Promise<void>((r) => (ready = r));
  child.proc.on('message', (m: Reply) => {
    if (m.ready) return ready();
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (m.error !== undefined) p?.reject(new Error(`the generator failed: ${m.error}`));
    else p?.resolve(m.result);
  });
  // The IPC channel closing under a send is reported here (unhandled, it would kill the run).
  child.proc.on('error', (err) => failAll(new Error(`the generator's channel failed: ${err.message}`)));
  const died = child.exited.then((code) => {
    const err = new Error(`the generator exited with ${code}: ${tail(child.logPath)}`);
    failAll(err);
    throw err;
  });
  died.catch(() => undefined);
  const hung = (what: string, ms: number) => {
    const t = setTimeout(() => {
      failAll(
        new Error(`the generator did not answer ${what} within ${ms / 1000} s: ${tail(child.logPath)}`),
      );
      child.proc.kill('SIGKILL');
    }, ms);
    return () => clearTimeout(t);
  };
  const cancel = hung('its start', 60_000);
  await Promise.race([started, died]).finally(cancel);
  let nextId = 1;
  return {
    child,
    run<T>(name: string, kind: GeneratorKind, spec: Timing): Promise<T> {
      writeFileSync(path.join(logDir, `${name}.spec.json`), JSON.stringify({ kind, spec }));
      if (child.done) return Promise.reject(new Error(`the generator is gone: ${tail(child.logPath)}`));
      const id = nextId++;
      const result = new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (r: unknown) => void, reject });
        child.proc.send({ id, kind, spec }, (err) => {
          if (!err) return;
          pending.delete(id);
          reject(new Error(`could not reach the generator: ${err.message}`));
        });
      });
      const limitMs = (spec.warmupS + spec.durationS) * 1000 + GENERATOR_SLACK_MS;
      return result.finally(hung(name, limitMs));
    },
  };
}

/** A server written in bench/ (the ceilings), started as its own process. */
export function startTsServer(name: string, script: string, env: NodeJS.ProcessEnv, logDir: string): Child {
  return startChild(name, [...TSX, script], { ...process.env, ...env }, logDir);
}

export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it is true; fails with the child's log if the child dies or time runs out. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  child?: Child,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child?.done)
      throw new Error(`${child.name} exited while waiting for ${what}:\n${tail(child.logPath)}`);
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${child ? `:\n${tail(child.logPath)}` : ''}`);
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** CPU time (user + system, ms) a process has used so far; 0 once it is gone. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  return fields ? (Number(fields[11]) + Number(fields[12])) * 10 : 0; // clock ticks of 10 ms (USER_HZ = 100)
}

/** A process's /proc stat fields after its name (fields 3 onwards), or null if it is gone or hidden. */
function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** The postmaster of the server a backend `pid` belongs to (its parent), or null if not visible here. */
export function postmasterOf(backendPid: number): number | null {
  const f = statFields(backendPid);
  return f ? Number(f[1]) : null;
}

/**
 * CPU time (ms) one PostgreSQL server has used so far: its postmaster, with what its exited
 * children used (cutime, cstime: the count only grows, a backend or autovacuum worker ending
 * between two reads is not lost), plus its live children. NaN when the postmaster cannot be
 * read (another machine, a container, /proc with hidepid): the column is then left out.
 */
export function postgresCpuMs(postmaster: number | null): number {
  const main = postmaster === null ? null : statFields(postmaster);
  if (main === null) return NaN;
  // Fields 14 to 17: utime, stime, cutime, cstime (clock ticks); field 4: the parent's pid.
  let ticks = Number(main[11]) + Number(main[12]) + Number(main[13]) + Number(main[14]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    if (f !== null && Number(f[1]) === postmaster) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks * 10; // clock ticks of 10 ms (USER_HZ = 100)
}

/**
 * Peak resident memory per role (api, worker): VmHWM read every 250 ms and before each stop, and
 * the largest VmRSS seen during each phase of the run (which scenario drives the peak).
 */
export class RssSampler {
  private readonly tracked = new Map<number, string>();
  private readonly peakKb = new Map<string, number>();
  private readonly phaseKb = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  phase = 'start';

  track(role: string, child: Child): void {
    this.tracked.set(child.pid, role);
    this.timer ??= setInterval(() => this.sample(), 250);
    this.timer.unref();
  }

  sample(): void {
    for (const [pid, role] of this.tracked) {
      const rssKb = statusKb(pid, 'VmRSS');
      const kb = Math.max(statusKb(pid, 'VmHWM'), rssKb);
      if (kb > (this.peakKb.get(role) ?? 0)) this.peakKb.set(role, kb);
      const key = `${role} during ${this.phase}`;
      if (rssKb > (this.phaseKb.get(key) ?? 0)) this.phaseKb.set(key, rssKb);
    }
  }

  untrack(child: Child): void {
    this.sample();
    this.tracked.delete(child.pid);
  }

  peakMb(role: string): number | null {
    const kb = this.peakKb.get(role);
    return kb === undefined ? null : Math.round(kb / 102.4) / 10;
  }

  byPhaseMb(): Record<string, number> {
    return Object.fromEntries([...this.phaseKb].map(([k, kb]) => [k, Math.round(kb / 102.4) / 10]));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
