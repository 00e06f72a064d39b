import { describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { decideRetry } from './retry.js';

const policy = { maxAttempts: 3, retryDelayMinutes: 15 };
const settings = { pentecostMondayOpen: false };
const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });

describe('retry policy', () => {
  it('retries 15 minutes later inside opening hours', () => {
    const d = decideRetry(1, at('2026-11-23T10:00:00+01:00'), policy, settings, []);
    expect(d).toMatchObject({ kind: 'retry' });
    expect(d.kind === 'retry' && d.at.toISO()).toBe('2026-11-23T10:15:00.000+01:00');
  });

  it('retries at a whole second, never less than the delay after the no-answer', () => {
    const d = decideRetry(1, at('2026-11-23T10:00:07.250+01:00'), policy, settings, []);
    expect(d.kind === 'retry' && d.at.toISO()).toBe('2026-11-23T10:15:08.000+01:00');
    const exact = decideRetry(1, at('2026-11-23T10:00:07.000+01:00'), policy, settings, []);
    expect(exact.kind === 'retry' && exact.at.toISO()).toBe('2026-11-23T10:15:07.000+01:00');
  });

  it('moves a retry that falls after closing to the next opening', () => {
    // Tuesday closes at 13:00; Wednesday opens at 08:30.
    const d = decideRetry(1, at('2026-11-24T12:50:00+01:00'), policy, settings, []);
    expect(d.kind === 'retry' && d.at.toISO()).toBe('2026-11-25T08:30:00.000+01:00');
  });

  it('skips a weekend and a holiday: Thursday 24 Dec 2026 18:10 retries on Monday 28 Dec', () => {
    const d = decideRetry(2, at('2026-12-24T18:10:00+01:00'), policy, settings, []);
    expect(d.kind === 'retry' && d.at.toISO()).toBe('2026-12-28T08:30:00.000+01:00');
  });

  it('skips a closure', () => {
    const closures = [{ id: 'c', date: '2026-11-23', start: '10:00', end: '12:00', reason: 'x' }];
    const d = decideRetry(1, at('2026-11-23T09:50:00+01:00'), policy, settings, closures);
    expect(d.kind === 'retry' && d.at.toISO()).toBe('2026-11-23T12:00:00.000+01:00');
  });

  it('gives up after the last attempt', () => {
    expect(decideRetry(3, at('2026-11-23T10:00:00+01:00'), policy, settings, [])).toEqual({
      kind: 'give_up',
    });
  });
});
