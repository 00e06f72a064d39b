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
  const earliest = now.plus({ minutes: policy.retryDelayMinutes });
  const whole = earliest.millisecond === 0 ? earliest : earliest.startOf('second').plus({ seconds: 1 });
  const at = firstOpenInstantAtOrAfter(whole, settings, closures);
  return at ? { kind: 'retry', at } : { kind: 'give_up' };
}
