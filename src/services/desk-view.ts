import { DateTime } from 'luxon';
import type { CallbackRecord } from '../repositories/callbacks.js';
import { ceilToSecond } from '../domain/retry.js';
import { isoParis } from './core.js';

/** What an informateur sees of the callback on their desk: the full number, to call it. */
export interface DeskCallback {
  reference: string;
  status: string;
  phone: string;
  domain: string;
  ficheId: string | null;
  subject: string | null;
  window: { start: string; end: string };
  attempts: number;
  outcome: string | null;
  redirectedTo: string | null;
  nextAttemptAt: string | null;
}

export const iso = (d: Date) => isoParis(DateTime.fromJSDate(d));

/**
 * A retry waiting for its next attempt (scheduled after a no-answer): when; else null. Shown on
 * the second, rounded up: retries are set on whole seconds (domain/retry.ts), but rows written
 * before that keep their milliseconds, and cutting them would show a time before the retry is due.
 */
export const nextAttemptAt = (c: CallbackRecord): string | null =>
  c.status === 'scheduled' && c.attempts > 0 ? isoParis(ceilToSecond(DateTime.fromJSDate(c.dueAt))) : null;

export function deskView(c: CallbackRecord): DeskCallback {
  return {
    reference: c.reference,
    status: c.status,
    phone: c.phone ?? '',
    domain: c.domain,
    ficheId: c.ficheId,
    subject: c.subject,
    window: { start: iso(c.windowStart), end: iso(c.windowEnd) },
    attempts: c.attempts,
    outcome: c.outcome,
    redirectedTo: c.redirectedTo,
    nextAttemptAt: nextAttemptAt(c),
  };
}
