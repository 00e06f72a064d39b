import { describe, expect, it } from 'vitest';
import type { CallbackRecord } from '../src/repositories/callbacks.js';
import { nextAttemptAt } from '../src/services/desk-view.js';

const retry = (dueAt: string, over: Partial<CallbackRecord> = {}) =>
  ({ status: 'scheduled', attempts: 1, dueAt: new Date(dueAt), ...over }) as CallbackRecord;

describe('nextAttemptAt', () => {
  it('shows a retry written with milliseconds (before retries were set on whole seconds) on the next second, never before it is due', () => {
    expect(nextAttemptAt(retry('2026-11-30T07:50:30.400Z'))).toBe('2026-11-30T08:50:31+01:00');
    expect(nextAttemptAt(retry('2026-11-30T07:50:30.001Z'))).toBe('2026-11-30T08:50:31+01:00');
  });

  it('shows a whole-second retry as it is', () => {
    expect(nextAttemptAt(retry('2026-11-30T07:50:30.000Z'))).toBe('2026-11-30T08:50:30+01:00');
  });

  it('is null for a callback that is not waiting for a retry', () => {
    expect(nextAttemptAt(retry('2026-11-30T07:50:30.400Z', { attempts: 0 }))).toBeNull();
    expect(nextAttemptAt(retry('2026-11-30T07:50:30.400Z', { status: 'queued' }))).toBeNull();
  });
});
