import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';

/**
 * Real Rappel processes as children of the test (`node --import tsx src/server.ts`), for suites
 * that need several API processes or that kill them. Every child is remembered until it exits,
 * so `killAllChildren()` in an afterAll (and the exit hook below) never leaves one running.
 */

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** The port it listens on (PORT), if it was given one. */
  readonly port: number | undefined;
  readonly baseUrl: string;
  /** Everything it wrote to stdout and stderr, for failure messages. */
  output(): string;
  /** Resolves with the exit code (or the signal's name) once it has exited. */
  readonly exited: Promise<number | string>;
  hasExited(): boolean;
}

const running = new Set<Child>();

process.once('exit', () => {
  for (const c of running) c.proc.kill('SIGKILL');
});

/** A TCP port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface SpawnOptions {
  name?: string;
  /** Added to the test process's environment; an undefined value removes the variable. */
  env: Record<string, string | undefined>;
  /** Entry script relative to the repository (default src/server.ts). */
  entry?: string;
  /** Leader of its own process group, as `npm start` is in a terminal (signal it with -pid). */
  detached?: boolean;
}

const OUTPUT_LIMIT = 200_000;

export function spawnRappel(opts: SpawnOptions): Child {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env })) if (v !== undefined) env[k] = v;
  const proc = spawn(process.execPath, ['--import', 'tsx', opts.entry ?? 'src/server.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.detached ?? false,
  });
  let out = '';
  const collect = (chunk: Buffer) => {
    out = (out + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
  };
  proc.stdout?.on('data', collect);
  proc.stderr?.on('data', collect);
  let done = false;
  const port = env.PORT ? Number(env.PORT) : undefined;
  const child: Child = {
    name: opts.name ?? `rappel:${env.PORT ?? '?'}`,
    proc,
    pid: proc.pid ?? -1,
    port,
    baseUrl: `http://${env.HOST ?? '127.0.0.1'}:${port ?? 0}`,
    output: () => out,
    exited: new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        done = true;
        running.delete(child);
        resolve(code ?? signal ?? 'unknown');
      });
      proc.once('error', (err) => {
        collect(Buffer.from(`spawn error: ${err.message}\n`));
        done = true;
        running.delete(child);
        resolve('spawn-error');
      });
    }),
    hasExited: () => done,
  };
  if (proc.pid === undefined) done = true;
  else running.add(child);
  return child;
}

/** Polls GET /readyz until 200; fails early if the child exits, or after `timeoutMs`. */
export async function waitReady(child: Child, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child.hasExited()) {
      throw new Error(`${child.name} exited (${await child.exited}) before being ready:\n${child.output()}`);
    }
    try {
      const res = await fetch(`${child.baseUrl}/readyz`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) return;
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    // Waiting for a process to start, not for business time: a short pause between polls.
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${child.name} not ready within ${timeoutMs} ms (last: ${last}):\n${child.output()}`);
}

/** Sends SIGTERM and resolves with the exit code; SIGKILL and rejects after `timeoutMs`. */
export async function stopChild(child: Child, timeoutMs = 30_000): Promise<number | string> {
  if (child.hasExited()) return child.exited;
  child.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      child.proc.kill('SIGKILL');
      reject(
        new Error(`${child.name} did not stop within ${timeoutMs} ms after SIGTERM:\n${child.output()}`),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([child.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** kill -9: no graceful shutdown. Resolves once the child is gone. */
export async function killChild(child: Child): Promise<number | string> {
  if (!child.hasExited()) child.proc.kill('SIGKILL');
  return child.exited;
}

/** For afterAll: SIGKILL every child still running, whatever happened in the tests. */
export async function killAllChildren(): Promise<void> {
  await Promise.all([...running].map((c) => killChild(c)));
}
