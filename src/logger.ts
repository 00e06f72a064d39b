import pino, { type Logger } from 'pino';

/** Paths whose values must never reach a log line: phone numbers, tokens, free-text subjects. */
export const REDACT_PATHS = [
  'phone',
  '*.phone',
  '*.*.phone',
  'subject',
  '*.subject',
  '*.*.subject',
  'note',
  '*.note',
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
  return destination ? pino(options, destination) : pino(options);
}
