import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DateTime } from 'luxon';
import type { Config } from '../config.js';
import type { Clock } from '../clock.js';
import type { DB } from '../db/schema.js';
import type { QueueHandle } from '../queue/connection.js';
import { PARIS, type CalendarSettings } from '../domain/calendar/index.js';
import { remember } from '../domain/bounded-cache.js';

/** What every service is built from. */
export interface Core {
  config: Config;
  clock: Clock;
  log: Logger;
  db: Kysely<DB>;
  queue: QueueHandle;
}

export function calendarSettingsOf(config: Config): CalendarSettings {
  return {
    slotMinutes: config.slotMinutes,
    pentecostMondayOpen: config.pentecostMondayOpen,
    bookingHorizonDays: config.bookingHorizonDays,
    minNoticeMinutes: config.minNoticeMinutes,
  };
}

const isoCache = new Map<number, string>();
const ISO_CACHE_MAX = 50_000;

/**
 * The contract's time format: ISO 8601 with the Paris offset, in whole seconds. Luxon's
 * formatting costs microseconds per call and a slot list formats hundreds of the same window
 * bounds, so results are memoised by instant (a pure function of it; bounded).
 */
export function isoParis(dt: DateTime): string {
  const ms = dt.toMillis();
  const hit = isoCache.get(ms);
  if (hit !== undefined) return hit;
  // Cut to the second: instants taken from the clock (an asap window, a history entry) carry
  // milliseconds that luxon would otherwise write.
  const iso = dt.setZone(PARIS).startOf('second').toISO({ suppressMilliseconds: true }) ?? '';
  return remember(isoCache, ISO_CACHE_MAX, ms, iso);
}
