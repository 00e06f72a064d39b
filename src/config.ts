import { isIP } from 'node:net';
import { DateTime } from 'luxon';

/** Every setting of the contract, parsed and validated once at start. */
export interface Config {
  readonly nodeEnv: string;
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string | null;
  readonly redisUrl: string | null;
  readonly role: 'api' | 'worker' | 'all';
  readonly opsApiToken: string | null;
  readonly appNow: DateTime | null;
  readonly seedDemo: boolean;
  readonly slotMinutes: number;
  readonly bookingHorizonDays: number;
  readonly minNoticeMinutes: number;
  readonly callbacksPerAgentPerSlot: number;
  readonly asapPromiseMinutes: number;
  readonly maxAttempts: number;
  readonly retryDelayMinutes: number;
  readonly assignmentTimeoutMinutes: number;
  readonly retentionDays: number;
  readonly pentecostMondayOpen: boolean;
  readonly rateLimitPerIpPerMinute: number;
  readonly rateLimitPerPhonePerDay: number;
  readonly trustProxy: boolean | string[];
  readonly corsOrigins: string[];
  readonly dataDir: string;
  readonly logLevel: string;
  readonly queuePrefix: string;
  readonly shutdownTimeoutMs: number;
  /**
   * How long an API process keeps accepting and answering after a stop signal before it stops
   * listening (0: it stops at once); part of SHUTDOWN_TIMEOUT_MS.
   */
  readonly shutdownDrainMs: number;
  /** BullMQ job lock (and stalled-check period): a job whose worker died runs again after it. */
  readonly jobLockMs: number;
  /** How long an API process may serve a slot list from memory (0: never); see slot-cache.ts. */
  readonly slotsCacheMs: number;
  /** Requests an API process works on at once; past it, 503 at once with Retry-After (0: no cap). */
  readonly maxInFlightRequests: number;
  /**
   * PostgreSQL cancels a service statement that runs or waits this long (statement_timeout) and
   * rolls its transaction back; the request answers 503. Migrations are not bound by it.
   */
  readonly dbStatementTimeoutMs: number;
  /** A worker process (APP_ROLE=worker) serves GET /metrics on this port (null: none). */
  readonly metricsPort: number | null;
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`Invalid setting ${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Longest a service statement may run or wait on PostgreSQL (migrations excepted). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 10_000;

export const DEFAULT_CORS_ORIGINS = ['https://www.service-public.gouv.fr', 'https://service-public.gouv.fr'];

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max)
    throw new ConfigError(name, `expected a number between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  if (/^(false|0|no)$/i.test(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: string[]): string | null {
  const raw = str(env, name);
  if (raw === undefined) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'not a valid URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL`);
  }
  return raw;
}

/** The names proxy-addr (fastify's trustProxy) gives to address ranges. */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * An address, a range (`10.0.0.0/8`, or `10.0.0.0/255.0.0.0` for IPv4) or a named range, as
 * fastify's trustProxy (proxy-addr) reads them.
 */
function isProxyEntry(entry: string): boolean {
  if (PROXY_RANGE_NAMES.has(entry) || isIP(entry) !== 0) return true;
  const [address, range, extra] = entry.split('/');
  if (extra !== undefined || address === undefined || range === undefined) return false;
  const family = isIP(address);
  if (family === 4 && isIP(range) === 4) return isContiguousNetmask(range);
  // proxy-addr refuses a zero-length prefix (it would trust every address anyway).
  return (
    family !== 0 &&
    /^\d{1,3}$/.test(range) &&
    Number(range) >= 1 &&
    Number(range) <= (family === 4 ? 32 : 128)
  );
}

/** 255.255.0.0 is a prefix; 255.0.255.0 or 0.0.0.0 are not, and proxy-addr throws on them at start. */
function isContiguousNetmask(mask: string): boolean {
  const bits = mask.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const hostPart = 2 ** 32 - 1 - bits; // the zeros at the end, as ones: 2^k - 1 when contiguous
  return bits !== 0 && (hostPart & (hostPart + 1)) === 0;
}

function trustProxy(env: Env): boolean | string[] {
  const raw = str(env, 'TRUST_PROXY');
  if (raw === undefined || /^(false|0|no)$/i.test(raw)) return false;
  if (/^(true|1|yes)$/i.test(raw)) return true;
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const wrong = entries.find((e) => !isProxyEntry(e));
  if (wrong !== undefined)
    throw new ConfigError(
      'TRUST_PROXY',
      `expected true, false or proxy addresses (IP, IP/bits, IPv4/netmask, loopback, linklocal, uniquelocal), got "${wrong}"`,
    );
  return entries;
}

/** Origins as browsers send them (`https://host[:port]`, no path), or `*` for any. */
function corsOrigins(env: Env): string[] {
  const raw = str(env, 'CORS_ORIGINS');
  if (raw === undefined) return DEFAULT_CORS_ORIGINS;
  const origins = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (origins.length === 0)
    throw new ConfigError(
      'CORS_ORIGINS',
      `expected at least one origin, got "${raw}" (leave it unset for the default)`,
    );
  for (const origin of origins) {
    if (origin === '*') continue;
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // refused below
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== origin)
      throw new ConfigError(
        'CORS_ORIGINS',
        `expected comma-separated origins such as https://www.service-public.gouv.fr (no path, no trailing slash) or *, got "${origin}"`,
      );
  }
  return origins;
}

/** Parses the environment; throws ConfigError naming the first bad setting. */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, 'NODE_ENV') ?? 'development';
  const production = nodeEnv === 'production';

  const roleRaw = str(env, 'APP_ROLE') ?? 'all';
  if (roleRaw !== 'api' && roleRaw !== 'worker' && roleRaw !== 'all') {
    throw new ConfigError('APP_ROLE', `expected api, worker or all, got "${roleRaw}"`);
  }

  const appNowRaw = str(env, 'APP_NOW');
  let appNow: DateTime | null = null;
  if (appNowRaw !== undefined) {
    if (production) throw new ConfigError('APP_NOW', 'is refused when NODE_ENV=production');
    appNow = DateTime.fromISO(appNowRaw, { setZone: true });
    if (!appNow.isValid || !/([+-]\d\d:\d\d|Z)$/.test(appNowRaw)) {
      throw new ConfigError('APP_NOW', `expected an ISO 8601 instant with offset, got "${appNowRaw}"`);
    }
  }

  const opsApiToken = str(env, 'OPS_API_TOKEN') ?? null;
  if (opsApiToken === null && production) {
    throw new ConfigError('OPS_API_TOKEN', 'is required when NODE_ENV=production');
  }
  if (opsApiToken !== null && opsApiToken.length < 16) {
    throw new ConfigError('OPS_API_TOKEN', 'must be at least 16 characters long');
  }
  // What a bearer header can carry (src/http/auth.ts): a token with a space, a non-ASCII
  // character or over 512 characters started the service and was then refused on every call.
  if (opsApiToken !== null && !/^[\x21-\x7E]{16,512}$/.test(opsApiToken)) {
    throw new ConfigError('OPS_API_TOKEN', 'must be 16 to 512 printable ASCII characters, without spaces');
  }

  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  const shutdownTimeoutMs = int(env, 'SHUTDOWN_TIMEOUT_MS', 25_000, 1_000, 600_000);
  // By default 1 s, but never most of a short stop.
  const drainDefault = Math.min(1_000, Math.floor(shutdownTimeoutMs / 4));
  const shutdownDrainMs = int(env, 'SHUTDOWN_DRAIN_MS', drainDefault, 0, 60_000);
  // Only an API process drains (a worker has nothing to answer).
  if (shutdownDrainMs >= shutdownTimeoutMs && roleRaw !== 'worker') {
    throw new ConfigError(
      'SHUTDOWN_DRAIN_MS',
      `expected less than SHUTDOWN_TIMEOUT_MS (${shutdownTimeoutMs}), got ${shutdownDrainMs}`,
    );
  }

  return Object.freeze({
    nodeEnv,
    port: int(env, 'PORT', 3000, 0, 65535),
    host: str(env, 'HOST') ?? '127.0.0.1',
    databaseUrl,
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    role: roleRaw,
    opsApiToken,
    appNow,
    seedDemo: bool(env, 'SEED_DEMO', databaseUrl === null),
    slotMinutes: int(env, 'SLOT_MINUTES', 30, 5, 240),
    bookingHorizonDays: int(env, 'BOOKING_HORIZON_DAYS', 14, 0, 366),
    minNoticeMinutes: int(env, 'MIN_NOTICE_MINUTES', 15, 0, 24 * 60),
    callbacksPerAgentPerSlot: int(env, 'CALLBACKS_PER_AGENT_PER_SLOT', 1, 1, 100),
    asapPromiseMinutes: int(env, 'ASAP_PROMISE_MINUTES', 45, 5, 24 * 60),
    maxAttempts: int(env, 'MAX_ATTEMPTS', 3, 1, 20),
    retryDelayMinutes: int(env, 'RETRY_DELAY_MINUTES', 15, 1, 7 * 24 * 60),
    assignmentTimeoutMinutes: int(env, 'ASSIGNMENT_TIMEOUT_MINUTES', 30, 1, 24 * 60),
    retentionDays: int(env, 'RETENTION_DAYS', 90, 1, 3650),
    pentecostMondayOpen: bool(env, 'PENTECOST_MONDAY_OPEN', false),
    rateLimitPerIpPerMinute: int(env, 'RATE_LIMIT_PER_IP_PER_MINUTE', 10, 0, 1_000_000),
    rateLimitPerPhonePerDay: int(env, 'RATE_LIMIT_PER_PHONE_PER_DAY', 5, 0, 1_000_000),
    trustProxy: trustProxy(env),
    corsOrigins: corsOrigins(env),
    dataDir: str(env, 'DATA_DIR') ?? '.data',
    logLevel: str(env, 'LOG_LEVEL') ?? (nodeEnv === 'test' ? 'silent' : 'info'),
    queuePrefix: str(env, 'QUEUE_PREFIX') ?? 'rappel',
    shutdownTimeoutMs,
    shutdownDrainMs,
    jobLockMs: int(env, 'JOB_LOCK_MS', 30_000, 1_000, 600_000),
    slotsCacheMs: int(env, 'SLOTS_CACHE_MS', 1_000, 0, 3_600_000),
    maxInFlightRequests: int(env, 'MAX_IN_FLIGHT_REQUESTS', 256, 0, 100_000),
    dbStatementTimeoutMs: int(env, 'DB_STATEMENT_TIMEOUT_MS', DEFAULT_STATEMENT_TIMEOUT_MS, 100, 600_000),
    metricsPort: str(env, 'METRICS_PORT') === undefined ? null : int(env, 'METRICS_PORT', 0, 0, 65535),
  });
}
