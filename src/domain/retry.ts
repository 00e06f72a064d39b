import type { DateTime } from 'luxon';
import { firstOpenInstantAtOrAfter, type CalendarSettings, type Closure } from './calendar/index.js';

export interface RetryPolicy {
  maxAttempts: number;
  retryDelayMinutes: number;
}

export type RetryDecision = { kind: 'retry'; at: DateTime } | { kind: 'give_up' };

/**
 * After a no-answer: another attempt at least `retryDelayMinutes` later, at the first instant
 * the centre is open from then on (a retry that falls after closing goes to the next opening),
 * until `maxAttempts` attempts have been made; then the callback fails as unreachable. The
 * retry is at a whole second.
 * `attemptsMade` counts the attempt that just ended.
 */
export function decideRetry(
  attemptsMade: number,
  now: DateTime,
  policy: RetryPolicy,
  settings: Pick<CalendarSettings, 'pentecostMondayOpen'>,
  closures: readonly Closure[],
): RetryDecision {
  if (attemptsMade >= policy.maxAttempts) return { kind: 'give_up' };
  // In whole seconds, as every time the API shows, rounded up so that the delay is never short.
  const whole = ceilToSecond(now.plus({ minutes: policy.retryDelayMinutes }));
  const at = firstOpenInstantAtOrAfter(whole, settings, closures);
  return at ? { kind: 'retry', at } : { kind: 'give_up' };
}

/** The instant on its second, or the next second when it has milliseconds: never earlier. */
export function ceilToSecond(t: DateTime): DateTime {
  return t.millisecond === 0 ? t : t.startOf('second').plus({ seconds: 1 });
}
