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

  it('refuses with nobody available', () => {
    expect(decide(0, 0)).toMatchObject({ ok: false, reason: 'nobody_available' });
  });

  it('keeps the later of the domain estimate and the pool estimate', () => {
    // The domain's own queue is short, the pool's long: the pool decides.
    expect(decide(1, 0, { informateurs: 1, waitingCallbacks: 5 })).toMatchObject({
      ok: false,
      reason: 'promise_exceeded',
    });
    expect(minutes(decide(1, 0, { informateurs: 1, waitingCallbacks: 4 }))).toBe(40);
    // The pool is idle elsewhere, the domain busy: the domain decides (its 2 informateurs, not the pool's 4).
    expect(minutes(decide(2, 6, { informateurs: 4, waitingCallbacks: 6 }))).toBe(30);
  });

  it('counts waiting callbacks only up to where they change the decision', () => {
    expect(waitingThatMatters(1, 45)).toBe(5);
    expect(waitingThatMatters(3, 45)).toBe(15);
    for (const available of [1, 2, 3, 7]) {
      const cap = waitingThatMatters(available, 45);
      expect(decide(available, cap).ok, `${available} at ${cap}`).toBe(false);
      expect(decide(available, cap - 1).ok, `${available} at ${cap - 1}`).toBe(true);
    }
  });
});
