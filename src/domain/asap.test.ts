import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { decideAsap, waitingThatMatters } from './asap.js';

const now = DateTime.fromISO('2026-11-23T10:00:00+01:00', { setZone: true });
const closingAt = now.set({ hour: 18, minute: 15 });
const decide = (
  availableInformateurs: number,
  waitingCallbacks: number,
  pool?: { informateurs: number; waitingCallbacks: number },
) =>
  decideAsap({
    now,
    closingAt,
    availableInformateurs,
    waitingCallbacks,
    promiseMinutes: 45,
    ...(pool ? { pool } : {}),
  });
const minutes = (d: ReturnType<typeof decideAsap>) =>
  d.estimatedCallAt ? d.estimatedCallAt.diff(now, 'minutes').minutes : null;

describe('decideAsap', () => {
  it('spreads the waiting callbacks over the available informateurs, 10 minutes a call', () => {
    expect(minutes(decide(1, 4))).toBe(40);
    expect(decide(1, 4).ok).toBe(true);
    expect(decide(1, 5)).toMatchObject({ ok: false, reason: 'promise_exceeded' });
    expect(minutes(decide(2, 5))).toBe(20);
  });

  it('counts a share of an informateur of several domains: half of one is 20 minutes a waiting call', () => {
    expect(minutes(decide(0.5, 2))).toBe(40);
    expect(decide(0.5, 3)).toMatchObject({ ok: false, reason: 'promise_exceeded' });
    expect(decide(0, 0)).toMatchObject({ ok: false, reason: 'nobody_available' });
  });

  it('keeps the later of the domain estimate and the pool estimate', () => {
    // The domain's own queue is short, the pool's long: the pool decides.
    expect(decide(0.5, 0, { informateurs: 1, waitingCallbacks: 5 })).toMatchObject({
      ok: false,
      reason: 'promise_exceeded',
    });
    expect(minutes(decide(0.5, 0, { informateurs: 1, waitingCallbacks: 4 }))).toBe(40);
    // The pool is idle, the domain's share is busy: the domain decides.
    expect(minutes(decide(1.5, 3, { informateurs: 4, waitingCallbacks: 3 }))).toBe(20);
  });

  it('counts waiting callbacks only up to where they change the decision', () => {
    expect(waitingThatMatters(1, 45)).toBe(5);
    expect(waitingThatMatters(0.5, 45)).toBe(3);
    expect(waitingThatMatters(1.5, 45)).toBe(8);
    // At the cap the promise is exceeded, below it not always.
    for (const available of [0.5, 1, 1.5, 2.25, 3]) {
      const cap = waitingThatMatters(available, 45);
      expect(decide(available, cap).ok, `${available} at ${cap}`).toBe(false);
    }
  });
});
