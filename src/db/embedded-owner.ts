import { createHash } from 'node:crypto';
import { readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';

/**
 * Who holds an embedded database's data directory, read before a start (embedded.ts): a
 * postmaster left behind by a service killed with -9 is stopped; one whose service still runs
 * makes the start refuse; a pid file naming another program (its pid reused) is removed.
 */

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
};

/** The command line of a process where /proc tells (Linux), else null. */
async function commandLine(pid: number): Promise<string[] | null> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  } catch {
    return null;
  }
}

const programOf = (argv: string[]) => path.basename(argv[0] ?? '');

/**
 * Whether `pid` is a live Node.js process: where /proc tells, a pid reused by another program
 * since the owner died is not one; elsewhere a live pid is taken as the owner.
 */
async function liveNode(pid: number): Promise<boolean> {
  if (!alive(pid)) return false;
  const argv = await commandLine(pid);
  return argv === null || programOf(argv).includes('node');
}

/**
 * Whether `pid` is a PostgreSQL server of this data directory, where /proc tells (its command
 * line, `postgres -D <dataDir> …`, as embedded.ts starts it); elsewhere a live pid named by the
 * pid file is taken as one.
 */
async function isPostmasterOf(pid: number, dataDir: string): Promise<boolean> {
  const argv = await commandLine(pid);
  return argv === null || (programOf(argv).includes('postgres') && argv.includes(dataDir));
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

/** Records this process as the owner of the postmaster it has just started. */
export async function recordOwner(root: string, postgresPid: number): Promise<void> {
  await writeFile(ownerFile(root), JSON.stringify({ pid: process.pid, postgresPid }) + '\n');
}

/** The embedded database's data directory is in use by another live service process. */
export class DataDirInUseError extends Error {
  constructor(databaseDir: string, ownerPid: number | null) {
    super(
      `the embedded PostgreSQL of ${databaseDir} is in use by ${ownerPid === null ? 'another process' : `process ${ownerPid}`} (another Rappel with the same DATA_DIR): stop it, or give this one its own DATA_DIR or a DATABASE_URL`,
    );
  }
}

/**
 * Holds the data directory for as long as this process lives (Linux): a socket in the abstract
 * namespace named after the directory, which the kernel drops with the process, kill -9
 * included, so that no stale lock is ever left. Two starts on one DATA_DIR within a moment both
 * passed the checks below before either had recorded itself: each could take the other's
 * starting postmaster for one left behind and stop it, or fail with PostgreSQL's own message.
 * Elsewhere (no abstract sockets), or where one cannot be had (a sandbox refusing them), null:
 * the checks below alone. Abstract sockets are per network namespace: two containers sharing
 * one volume do not see each other's.
 */
export async function holdDataDir(
  root: string,
  databaseDir: string,
  log: Logger,
): Promise<{ release(): Promise<void> } | null> {
  if (process.platform !== 'linux') return null;
  // The directory itself, whatever path (a symlink) leads to it.
  const id = createHash('sha256')
    .update(await realpath(root))
    .digest('hex')
    .slice(0, 40);
  const server = createServer((socket) => socket.destroy());
  server.unref();
  const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
    server.once('error', resolve);
    server.listen(`\0rappel-embedded-${id}`, () => resolve(null));
  });
  if (error === null) return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  if (error.code === 'EADDRINUSE') {
    const owner = await readOwner(root);
    throw new DataDirInUseError(
      databaseDir,
      owner !== null && (await liveNode(owner.pid)) ? owner.pid : null,
    );
  }
  log.warn(
    { err: { message: error.message } },
    'could not hold the data directory (abstract socket): pid checks only',
  );
  return null;
}

/**
 * A postmaster left behind by a process killed with -9 still holds the data directory: stop it.
 * One whose service process is still running is not left behind: a second `npm start` in the
 * same folder stopped the first one's database, which then answered 503 to everything (outside
 * test helper-49). That start is refused instead.
 */
export async function stopOrphan(root: string, dataDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  } catch {
    return; // no pid file: nothing running
  }
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
    if (!alive(pid)) return;
  }
  throw new Error(`embedded PostgreSQL (pid ${pid}) did not stop`);
}
