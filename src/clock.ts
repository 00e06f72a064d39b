import { DateTime } from 'luxon';

/** The one source of business time. `APP_NOW` starts it elsewhere; it then runs on with the wall clock. */
export interface Clock {
  now(): DateTime;
}

export function systemClock(): Clock {
  return { now: () => DateTime.now() };
}

/** A clock that started at `start` and advances in real time from there. */
export function offsetClock(start: DateTime): Clock {
  const offset = start.toMillis() - Date.now();
  return { now: () => DateTime.fromMillis(Date.now() + offset) };
}

/** A clock that only moves when told: for tests that play a day. */
export class ManualClock implements Clock {
  private current: DateTime;
  constructor(start: DateTime) {
    this.current = start;
  }
  now(): DateTime {
    return this.current;
  }
  set(to: DateTime): void {
    this.current = to;
  }
  advance(by: { minutes?: number; hours?: number; days?: number; seconds?: number }): void {
    this.current = this.current.plus(by);
  }
}
