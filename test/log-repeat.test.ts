import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { repeatLimitedWarn } from '../src/logger.js';

describe('repeated errors', () => {
  it('are logged once per period and message, with how many were left out', () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const lines: { msg: string; err: { message: string }; repeated?: number }[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(JSON.parse(chunk.toString('utf8')));
          done();
        },
      });
      const warn = repeatLimitedWarn(pino(sink), 'worker error', 30_000);
      // A Redis that is down: the same error about twice a second for a minute.
      for (let s = 0; s < 60; s += 0.5) {
        vi.setSystemTime(s * 1000);
        warn(new Error('connect ECONNREFUSED 127.0.0.1:3818'));
      }
      warn(new Error('another one'));
      expect(lines.map((l) => [l.err.message, l.repeated])).toEqual([
        ['connect ECONNREFUSED 127.0.0.1:3818', undefined],
        ['connect ECONNREFUSED 127.0.0.1:3818', 59],
        ['another one', undefined],
      ]);
    } finally {
      vi.useRealTimers();
    }
  });
});
