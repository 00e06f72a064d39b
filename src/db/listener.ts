import pg from 'pg';
import type { Logger } from 'pino';

export interface ListenerOptions {
  connectionString: string;
  /** A PostgreSQL identifier: lower-case letters, digits and underscores. */
  channel: string;
  /** Shown in pg_stat_activity, so that ops (and tests) can find the connection. */
  applicationName: string;
  log: Logger;
  onNotification(payload: string): void;
  /** true once LISTEN is in place (after each connection), false as soon as it is lost. */
  onLive(live: boolean): void;
  /** Reconnection delays: doubled after each failure, from the first to the last (ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** A silent network loss shows no error: a `SELECT 1` this often finds it (ms). */
  pingEveryMs?: number;
}

export interface Listener {
  readonly live: boolean;
  /** Resolves after the first attempt to connect, whether it succeeded or not; never rejects. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const WARN_EVERY_MS = 30_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      t = setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

/**
 * A dedicated connection (not from the pool: a pooled session would stop listening when it is
 * handed back) that LISTENs on one channel and reconnects by itself with backoff. Its errors
 * are logged, never thrown: whoever relies on it must cope with `live` being false.
 */
export function createListener(opts: ListenerOptions): Listener {
  if (!/^[a-z_][a-z0-9_]*$/.test(opts.channel)) throw new Error(`invalid channel name: ${opts.channel}`);
  const retryMinMs = opts.retryMinMs ?? 100;
  const retryMaxMs = opts.retryMaxMs ?? 5_000;
  const pingEveryMs = opts.pingEveryMs ?? 10_000;
  const log = opts.log.child({ component: 'listener', channel: opts.channel });

  let client: pg.Client | null = null;
  let live = false;
  let closed = false;
  let failures = 0;
  let lastWarnAt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;

  const setLive = (value: boolean) => {
    if (live === value) return;
    live = value;
    opts.onLive(value);
  };

  const warn = (err: unknown, msg: string) => {
    // Operational throttling of a log line, not business time: the wall clock is right here.
    const now = Date.now();
    const fields = { err: { message: (err as Error | undefined)?.message ?? String(err) }, failures };
    if (now - lastWarnAt >= WARN_EVERY_MS) {
      lastWarnAt = now;
      log.warn(fields, msg);
    } else {
      log.debug(fields, msg);
    }
  };

  const scheduleRetry = () => {
    if (closed || retryTimer !== undefined) return;
    const base = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(failures, 20));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    failures += 1;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
    retryTimer.unref();
  };

  async function connect(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({
      connectionString: opts.connectionString,
      application_name: opts.applicationName,
      connectionTimeoutMillis: 3_000,
      keepAlive: true,
    });
    client = c;
    let lost = false;
    const onLost = (err: unknown) => {
      if (lost) return;
      lost = true;
      if (client === c) client = null;
      clearInterval(pingTimer);
      pingTimer = undefined;
      setLive(false);
      c.end().catch(() => undefined);
      if (!closed) {
        warn(
          err,
          'slot change notifications lost: slot listings are read from the database until reconnected',
        );
        scheduleRetry();
      }
    };
    c.on('error', onLost);
    c.on('end', () => onLost(new Error('connection ended')));
    c.on('notification', (msg) => {
      if (msg.channel === opts.channel) opts.onNotification(msg.payload ?? '');
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${opts.channel}`);
    } catch (err) {
      onLost(err);
      return;
    }
    if (lost) return;
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    if (failures > 0) log.info({ failures }, 'slot change notifications back');
    failures = 0;
    setLive(true);
    pingTimer = setInterval(() => {
      withTimeout(c.query('SELECT 1'), 5_000).catch((err: unknown) => onLost(err));
    }, pingEveryMs);
    pingTimer.unref();
  }

  return {
    get live() {
      return live;
    },
    async start() {
      await connect();
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      retryTimer = undefined;
      clearInterval(pingTimer);
      pingTimer = undefined;
      setLive(false);
      const c = client;
      client = null;
      if (c) await withTimeout(c.end(), 2_000).catch(() => undefined);
    },
  };
}
