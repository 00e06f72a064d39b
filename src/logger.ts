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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const pretty = destination === undefined && process.stdout.isTTY === true && level !== 'silent';
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
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
