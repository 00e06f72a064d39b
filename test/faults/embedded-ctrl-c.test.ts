import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, killAllChildren, spawnRappel, waitReady } from '../support/processes.js';

/**
 * `npm start` on a fresh machine (no DATABASE_URL, no REDIS_URL): an embedded PostgreSQL, and
 * BullMQ on it. Ctrl-C in the terminal sends SIGINT to the whole foreground process group. The
 * service must stop as it does on SIGTERM: finish, close, and stop the database last. The
 * database used to be in that group too and shut down the same millisecond, under the requests
 * and jobs still finishing (sessions terminated, and in most runs an exit 0 before 'stopped').
 */
describe('Ctrl-C on a service running its embedded PostgreSQL', () => {
  let dataDir = '';
  afterAll(async () => {
    await killAllChildren();
    // A failed test may leave the postmaster running (it is out of the children's group).
    const pidFile = dataDir && path.join(dataDir, 'pg', 'postmaster.pid');
    if (pidFile && existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const start = async ({ waitReady: ready = true, env = {} as Record<string, string> } = {}) => {
    if (!dataDir) {
      dataDir = await mkdtemp(path.join(tmpdir(), 'rappel-embedded-'));
      await chmod(dataDir, 0o755); // as root, PostgreSQL runs as the postgres user: it must get in
    }
    const child = spawnRappel({
      name: 'embedded',
      detached: true,
      env: {
        DATABASE_URL: undefined,
        REDIS_URL: undefined,
        DATA_DIR: dataDir,
        PORT: String(await freePort()),
        NODE_ENV: 'development',
        LOG_LEVEL: 'info',
        ...env,
      },
    });
    if (ready) await waitReady(child, 90_000);
    return child;
  };
  const stoppedCleanly = (out: string) => {
    expect(out).toMatch(/"msg":"embedded PostgreSQL stopped"[\s\S]*"msg":"stopped"/);
    // Not one session terminated by a database shutting down before the service was done.
    expect(out).not.toContain('terminating connection due to administrator command');
    expect(out).not.toContain('exited on its own');
    // A clean shutdown removes the postmaster's pid file: nothing left running.
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  };

  const waitForLine = async (child: Awaited<ReturnType<typeof start>>, msg: string) => {
    for (let i = 0; i < 1500 && !child.output().includes(`"msg":"${msg}"`); i++) {
      expect(child.hasExited(), child.output()).toBe(false);
      await new Promise((r) => setTimeout(r, 20)); // waiting for a log line of a child process
    }
    expect(child.output()).toContain(`"msg":"${msg}"`);
  };

  it('Ctrl-C while a first start creates the database: it is created, started, then stopped', async () => {
    const child = await start({ waitReady: false }); // a new data directory
    await waitForLine(child, 'initialising embedded PostgreSQL');
    await new Promise((r) => setTimeout(r, 300)); // initdb under way
    process.kill(-child.pid, 'SIGINT');
    expect(await child.exited, child.output()).toBe(0);
    expect(child.output()).toContain('"msg":"embedded PostgreSQL started"');
    stoppedCleanly(child.output());
  });

  it('stops the database last: no session is cut under the service, exit 0 after "stopped"', async () => {
    const child = await start();
    // Some traffic, so that the pool holds sessions when the signal comes.
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${child.baseUrl}/v1/slots?domain=travail&days=14`);
      expect(res.status).toBe(200);
    }

    process.kill(-child.pid, 'SIGINT'); // the whole group, as a terminal does
    expect(await child.exited, child.output()).toBe(0);

    stoppedCleanly(child.output());
  });

  it('a closed terminal (SIGHUP to the group) stops the same way, then ends by the hangup', async () => {
    const child = await start();
    process.kill(-child.pid, 'SIGHUP');
    // Raised again once stopped: a normal exit after the terminal is gone makes Node abort.
    expect(await child.exited, child.output()).toBe('SIGHUP');
    stoppedCleanly(child.output());
  });

  it('a stop that times out still stops the database on its way out', async () => {
    const child = await start({ env: { SHUTDOWN_TIMEOUT_MS: '1500' } });
    // A request whose body never ends: in flight for ever, so the graceful stop cannot finish.
    const socket = connect(Number(new URL(child.baseUrl).port), '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(
      'POST /v1/callbacks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"dom',
    );
    await new Promise((r) => setTimeout(r, 300));
    process.kill(-child.pid, 'SIGINT');
    expect(await child.exited, child.output()).toBe(1);
    expect(child.output()).toContain('"msg":"shutdown timed out"');
    socket.destroy();
    // Asked for a fast shutdown as the process exited: gone within seconds, its pid file with it.
    const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
    for (let i = 0; i < 100 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(pidFile), 'embedded PostgreSQL left running').toBe(false);
  });

  const postmasterPid = () =>
    Number(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);

  it('a second start on the same DATA_DIR is refused while the first runs, which goes on serving', async () => {
    // It used to stop the first one's database as "left running by an earlier process": the
    // first then answered 503 to everything, for good (outside test helper-49).
    const first = await start();
    const second = await start({ waitReady: false });
    expect(await second.exited, second.output()).toBe(1);
    expect(second.output()).toContain(`in use by process ${first.pid}`);
    expect(second.output()).not.toContain('stopping an embedded PostgreSQL');
    expect((await fetch(`${first.baseUrl}/readyz`)).status).toBe(200);
    process.kill(first.pid, 'SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    stoppedCleanly(first.output());
  });

  it('two starts on one DATA_DIR at the same moment: one serves, the other is refused as in use', async () => {
    // Both passed the checks before either had recorded itself: the loser failed with
    // PostgreSQL's own message, or took the winner's starting postmaster for one left behind.
    const [a, b] = await Promise.all([start({ waitReady: false }), start({ waitReady: false })]);
    const first = await Promise.race([a.exited.then(() => a), b.exited.then(() => b)]);
    const other = first === a ? b : a;
    expect(await first.exited, first.output()).toBe(1);
    expect(first.output()).toMatch(/is in use by (process \d+|another process)/);
    expect(first.output()).not.toContain('stopping an embedded PostgreSQL');
    await waitReady(other, 90_000);
    expect((await fetch(`${other.baseUrl}/readyz`)).status).toBe(200);
    process.kill(other.pid, 'SIGTERM');
    expect(await other.exited, other.output()).toBe(0);
    stoppedCleanly(other.output());
  });

  it('a database left running by a service killed with -9 is stopped by the next start', async () => {
    const killed = await start();
    const orphan = postmasterPid();
    process.kill(killed.pid, 'SIGKILL'); // the service only: the postmaster is out of its group
    expect(await killed.exited).toBe('SIGKILL');
    process.kill(orphan, 0); // still running
    const next = await start();
    expect(next.output()).toContain('stopping an embedded PostgreSQL left running by an earlier process');
    expect(postmasterPid()).not.toBe(orphan);
    process.kill(next.pid, 'SIGTERM');
    expect(await next.exited, next.output()).toBe(0);
    stoppedCleanly(next.output());
  });

  it('a pid file naming a live program that is not its PostgreSQL (pid reused) is removed, the program left alone', async () => {
    // After a power cut the pid in postmaster.pid may be another program's: an outside test saw
    // this start send it SIGINT (and fail for good when it did not stop).
    const first = await start();
    process.kill(first.pid, 'SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const pidFile = path.join(dataDir, 'pg', 'postmaster.pid');
      writeFileSync(pidFile, `${bystander.pid}\n${path.join(dataDir, 'pg')}\n`);
      const next = await start();
      expect(next.output()).toContain('stale postmaster.pid');
      expect(next.output()).not.toContain('stopping an embedded PostgreSQL');
      expect(bystander.exitCode === null && bystander.signalCode === null, 'bystander signalled').toBe(true);
      process.kill(next.pid, 'SIGTERM');
      expect(await next.exited, next.output()).toBe(0);
      stoppedCleanly(next.output());
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  it('a service whose database stops under it stops too, exit code 1, rather than answer 503 for ever', async () => {
    const child = await start();
    process.kill(postmasterPid(), 'SIGINT'); // a fast shutdown, as by hand or another program
    expect(await child.exited, child.output()).toBe(1);
    expect(child.output()).toContain('"msg":"embedded PostgreSQL exited on its own"');
    expect(child.output()).toMatch(/"signal":"database lost"[\s\S]*"msg":"stopped"/);
  });

  it('a smart shutdown of its database (SIGTERM to the postmaster) stops the service too, exit code 1', async () => {
    const child = await start();
    process.kill(postmasterPid(), 'SIGTERM'); // open sessions go on, new ones are refused
    expect(await child.exited, child.output()).toBe(1);
    expect(child.output()).toContain('"msg":"embedded PostgreSQL is shutting down on its own"');
    expect(child.output()).toMatch(/"signal":"database lost"[\s\S]*"msg":"stopped"/);
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  });

  it('Ctrl-C while the service is still starting stops the database it has started', async () => {
    const child = await start({ waitReady: false });
    await waitForLine(child, 'embedded PostgreSQL started');
    expect(child.output()).not.toContain('"msg":"rappel started"');
    process.kill(-child.pid, 'SIGINT');
    expect(await child.exited, child.output()).toBe(0);
    stoppedCleanly(child.output());
  });
});
