import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../support/processes.js';
import { atExit } from './cleanup.js';

/**
 * A redis-server of the test's own (own port, own directory): the tests that stop, restart or
 * flush Redis do it here, never to the shared instance on 6379. With `aof`, every write is
 * fsynced to an append-only file, so a restart keeps the data (only FLUSHALL loses it).
 */
export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
  /** SIGTERM and wait: a clean shutdown (the AOF is already on disk). */
  stop(): Promise<void>;
  /** SIGSTOP: connections stay open, nothing is answered (a frozen host); `thaw` is SIGCONT. */
  freeze(): void;
  thaw(): void;
  flushAll(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startPrivateRedis(opts: { aof?: boolean } = {}): Promise<PrivateRedis> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rappel-faults-redis-'));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  const unregister = atExit(() => {
    proc?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  args.push(...(opts.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));

  const command = async (...cmd: [string, ...string[]]) => {
    const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined); // the caller gets the rejection
    try {
      await c.connect();
      return await c.call(...cmd);
    } finally {
      c.disconnect();
    }
  };

  const instance: PrivateRedis = {
    port,
    url,
    async start() {
      const p = spawn('redis-server', args, { stdio: 'ignore' });
      proc = p;
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (p.exitCode !== null) throw new Error(`redis-server exited (${p.exitCode})`);
        try {
          if ((await command('PING')) === 'PONG') return;
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) throw new Error('private redis-server did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    freeze() {
      proc?.kill('SIGSTOP');
    },
    thaw() {
      proc?.kill('SIGCONT');
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null) return;
      p.kill('SIGCONT'); // a frozen server handles SIGTERM only once it runs again
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
      proc = null;
    },
    async flushAll() {
      await command('FLUSHALL');
    },
    async destroy() {
      await instance.stop().catch(() => proc?.kill('SIGKILL'));
      unregister();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await instance.start();
  return instance;
}
