import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { DateTime } from 'luxon';
import type { Config } from '../config.js';
import type { Clock } from '../clock.js';
import type { DB } from '../db/schema.js';
import type { QueueHandle } from '../queue/connection.js';
import { ZONE, type CalendarSettings } from '../domain/calendar/index.js';

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

/** The contract's time format: ISO 8601 with the Paris offset, no milliseconds. */
export function isoParis(dt: DateTime): string {
  return dt.setZone(ZONE).toISO({ suppressMilliseconds: true }) ?? '';
}
