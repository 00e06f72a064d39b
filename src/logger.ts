import pino, { type Logger } from 'pino';

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

/** Query parameters of the API's routes, whose values say nothing of a person. */
const PLAIN_QUERY = new Set(['domain', 'from', 'to', 'days', 'status', 'limit', 'cursor']);

/**
 * A request's URL as logged: the path, and the query with the value of any parameter no route
 * takes (and its name) replaced. Routes ignore unknown parameters, so a page adding the
 * caller's phone to a URL (`?phone=06…`) put it verbatim in every access log line.
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = [...new URLSearchParams(url.slice(q + 1))].map(([name, value]) =>
    PLAIN_QUERY.has(name) ? `${name}=${encodeURIComponent(value)}` : '[redacted]',
  );
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
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
        host: req.host,
        remoteAddress: req.ip,
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
