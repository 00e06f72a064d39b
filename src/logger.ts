import pino, { type Logger } from 'pino';
import { clientAddress } from './http/client-address.js';

/**
 * A warning for errors that repeat (a queue retrying a Redis that is down, about twice a second):
 * each message once per `everyMs`, with how many were left out since.
 */
export function repeatLimitedWarn(log: Logger, msg: string, everyMs = 30_000): (err: Error) => void {
  const last = new Map<string, { at: number; skipped: number }>();
  return (err) => {
    const now = Date.now();
    const seen = last.get(err.message);
    if (seen && now - seen.at < everyMs) {
      seen.skipped++;
      return;
    }
    if (last.size > 100) last.clear();
    last.set(err.message, { at: now, skipped: 0 });
    log.warn(
      {
        err: { message: textWithoutPhone(err.message) },
        ...(seen?.skipped ? { repeated: seen.skipped } : {}),
      },
      msg,
    );
  };
}

/** Paths whose values must never reach a log line: phone numbers, tokens, free text (subjects, notes, redirections). */
export const REDACT_PATHS = [
  'phone',
  '*.phone',
  '*.*.phone',
  'subject',
  '*.subject',
  '*.*.subject',
  'note',
  '*.note',
  'redirectedTo',
  '*.redirectedTo',
  'token',
  '*.token',
  'cancelToken',
  '*.cancelToken',
  'req.headers.authorization',
  'req.headers["x-cancel-token"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-cancel-token"]',
];

/**
 * Query parameters of the API's routes, by the shape their values must have: such a value says
 * nothing of a person. Another value, of these or of any other parameter, is not logged.
 */
const PLAIN_QUERY: Record<string, { test(value: string): boolean }> = {
  domain: /^[a-z]{1,20}$/,
  status: /^[a-z_]{1,20}$/,
  from: /^\d{4}-\d{2}-\d{2}$/,
  to: /^\d{4}-\d{2}-\d{2}$/,
  days: /^\d{1,4}$/,
  limit: /^\d{1,4}$/,
  cursor: { test: isCursor },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * An IPv4 address, written as one is (0–255, no leading zeros): `06.12.34.56` is a phone.
 * A port is not part of it (`33.6.12.34:5678` holds a number too).
 */
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const ADDRESS = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
const REFERENCE = /^RAP-?[A-Z0-9]{6}$/i;

/** Digits of any script (full-width ones included) in a text, percent-decoded when it can be. */
function digitCount(text: string): number {
  let decoded = text;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    // malformed escapes: the raw text
  }
  return decoded.match(/\p{Nd}/gu)?.length ?? 0;
}

/**
 * A path segment or a Host, or `[redacted]` when it holds eight digits or more however they are
 * written (spaces of any kind, dots, dashes, underscores, percent-encoded or not): a phone.
 * Uuids and addresses are kept.
 */
function withoutPhone(text: string): string {
  return ADDRESS.test(text) || !mayHoldPhone(text) ? text : '[redacted]';
}

/**
 * A Host as logged: an address is kept with the server's own port only (`127.0.0.1:3000`); with
 * no port known (light-my-request's socket) a port counts as digits of the rest.
 */
function hostWithoutPhone(host: unknown, localPort: number | undefined): string | undefined {
  if (typeof host !== 'string') return undefined;
  const port = host.lastIndexOf(':');
  const name = port > 0 && host.slice(port + 1) === String(localPort) ? host.slice(0, port) : host;
  return ADDRESS.test(name) || !mayHoldPhone(host) ? host : '[redacted]';
}

/** Dates and times (`2026-11-24 10:00:00.123`, a log line's prefix): kept, set apart first. */
const DATE_TIME = /(\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?)/u;
/** Runs of digits however separated (spaces, any dash, dots, slashes, brackets, invisible characters). */
const DIGIT_RUN = /\+?\p{Nd}[\p{Nd}\s\p{Pd}\p{Cf}\u2212._/()]{6,}\p{Nd}/gu;

/** A text with every run of eight digits or more replaced, dates and times kept. */
export function textWithoutPhone(text: string): string {
  // split with a capturing group: dates at the odd indexes.
  return text
    .split(DATE_TIME)
    .map((part, i) =>
      i % 2 === 1 ? part : part.replace(DIGIT_RUN, (run) => (digitCount(run) < 8 ? run : '[redacted]')),
    )
    .join('');
}

/**
 * An error as logged. PostgreSQL's errors carry the failing row in `detail` (`Failing row
 * contains (…, +33612345678, …)`, `Key (phone, domain)=(…)`) and a message may quote a value:
 * only names are kept (SQLSTATE, constraint, table, column), the message and stack with digits
 * runs replaced. A 500 logged the whole error, phone, subject and note included.
 */
export function loggableError(err: unknown, depth = 0): Record<string, unknown> {
  // Never throws (a cyclic cause, a message that is no string, an object with no prototype):
  // it runs in error handlers, where a throw answered a 500 without problem+json.
  const text = (v: unknown) => (typeof v === 'string' ? textWithoutPhone(v) : undefined);
  try {
    if (!(err instanceof Error)) return bare({ message: text(typeof err === 'string' ? err : typeof err) });
    const e = err as Error & Record<string, unknown>;
    const names: Record<string, unknown> = {};
    for (const key of ['code', 'constraint', 'table', 'column', 'schema', 'routine'])
      if (typeof e[key] === 'string' || typeof e[key] === 'number') names[key] = e[key];
    const deeper = depth < 3;
    return bare({
      // Its class (pg's DatabaseError is named 'error'), as pino names a real error.
      name: typeof e.constructor === 'function' && e.constructor.name ? e.constructor.name : text(e.name),
      message: text(e.message),
      ...names,
      stack: text(e.stack),
      ...(deeper && e.cause !== undefined ? { cause: loggableError(e.cause, depth + 1) } : {}),
      // AggregateError (a connection refused on each address of a name): its parts, a few.
      ...(deeper && Array.isArray(e.errors)
        ? { errors: (e.errors as unknown[]).slice(0, 4).map((x) => loggableError(x, depth + 1)) }
        : {}),
    });
  } catch {
    return { message: 'error not loggable' };
  }
}

/**
 * Without a prototype, so that pino's error serializer names it by its `name` (the error's
 * type), not by its constructor (`Object`).
 */
function bare(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.assign(Object.create(null) as Record<string, unknown>, fields);
}

/** Whether a text given by a client could hold a phone number: eight digits or more, not a uuid. */
export function mayHoldPhone(text: string): boolean {
  return !UUID.test(text) && digitCount(text) >= 8;
}

/**
 * A path with each segment holding a phone replaced; a number split over segments
 * (`/06/47/38/29/10`) too: eight digits or more over the segments that are not ids replace
 * every such segment that has a digit (but `v1`).
 */
function pathWithoutPhone(path: string): string {
  const segments = path.split('/').map(withoutPhone);
  const loose = (s: string) => s !== 'v1' && !UUID.test(s) && !REFERENCE.test(s) && digitCount(s) > 0;
  const total = segments.filter((s) => !UUID.test(s)).reduce((n, s) => n + digitCount(s), 0);
  return (total >= 8 ? segments.map((s) => (loose(s) ? '[redacted]' : s)) : segments).join('/');
}

/** A pagination cursor as the ops list makes it: base64url of an instant and a uuid. */
function isCursor(value: string): boolean {
  return (
    /^[A-Za-z0-9_-]{20,300}$/.test(value) &&
    /^\d{4}-\d{2}-\d{2}T[\d:.]+Z\|[0-9a-f-]{36}$/.test(Buffer.from(value, 'base64url').toString('latin1'))
  );
}

/**
 * A request's URL as logged: routes ignore unknown query parameters, so a page adding the
 * caller's phone to a URL (`?phone=06…`) put it verbatim in every access log line; so did a
 * known parameter given such a value, a path (`/v1/callbacks/0612…`, a 404) or a fragment. The
 * path is kept with a segment holding a phone replaced, the query keeps the parameters routes take
 * with values of their shape, a fragment is logged as `#[redacted]`.
 */
export function loggableUrl(url: string): string {
  const hash = url.indexOf('#');
  const base = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? '' : '#[redacted]';
  const q = base.indexOf('?');
  const path = pathWithoutPhone(q < 0 ? base : base.slice(0, q));
  if (q < 0) return path + fragment;
  const parts = [...new URLSearchParams(base.slice(q + 1))].map(([name, value]) => {
    const shape = Object.hasOwn(PLAIN_QUERY, name) ? PLAIN_QUERY[name] : undefined;
    if (shape === undefined) return '[redacted]';
    return shape.test(value) ? `${name}=${encodeURIComponent(value)}` : `${name}=[redacted]`;
  });
  return `${path}?${parts.join('&')}${fragment}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip: string;
  socket?: { remoteAddress?: string; remotePort?: number; localPort?: number };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const pretty = destination === undefined && process.stdout.isTTY === true && level !== 'silent';
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Fastify's own request serializer, but for the URL (its serializers give way to the logger's).
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: loggableUrl(req.url),
        host: hostWithoutPhone(req.host, req.socket?.localPort),
        remoteAddress: clientAddress(req),
        remotePort: req.socket?.remotePort,
      }),
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard' } } } : {}),
  };
  if (destination) return pino(options, destination);
  if (pretty) return pino(options);
  // Synchronous: a line logged is written. pino's default (asynchronous) flushes at exit what is
  // buffered before a write still in flight, so the last lines of a stop came out of order
  // ('stopped' before 'embedded PostgreSQL stopped'), and a process ended by a signal lost
  // them. One write per line costs little at the levels in use (warn in the benchmark).
  return pino(options, pino.destination({ dest: 1, sync: true }));
}
