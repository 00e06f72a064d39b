import { DateTime } from 'luxon';
import { PARIS } from '../domain/calendar/index.js';
import { remember } from '../domain/bounded-cache.js';
import { AppError } from '../http/errors.js';
import type { CallbackRequest } from './intake-booking.js';
import { sha256 } from './tokens.js';

/** What intake reads from a booking request before deciding: its window start and its hash. */

/** The first year the calendar knows the holidays of (holidaysOfYear). */
const FIRST_CALENDAR_YEAR = 1583;

/**
 * Window starts as read, by their text: citizens pick among the same few hundred windows, and
 * luxon's ISO parse and zone change are the costliest steps of a booking's calendar check
 * (DateTime values are immutable, so one may be shared).
 */
const slotStartsRead = new Map<string, DateTime>();
const SLOT_STARTS_READ_MAX = 4_096;

/**
 * The requested window start, read once, in Paris time. The schema's date-time format admits
 * writings the calendar cannot read (a space for the `T`, a leap second `:60`) and years it has
 * no holidays for (before 1583, the first whole Gregorian year; a 500 until the fuzz test drew
 * 1582-12-31) or PostgreSQL no date for: refused as the schema would.
 */
export function readSlotStart(slotStart: string | undefined): DateTime {
  const known = slotStart === undefined ? undefined : slotStartsRead.get(slotStart);
  if (known !== undefined) return known;
  const start = slotStart === undefined ? null : DateTime.fromISO(slotStart, { setZone: true });
  const year = start?.setZone(PARIS).year;
  if (!start?.isValid || year === undefined || year < FIRST_CALENDAR_YEAR || year > 9999) {
    throw new AppError(
      'VALIDATION_ERROR',
      'Champ « slotStart » non valide (corps de la requête) : date et heure ISO 8601 avec décalage attendues (ex. 2026-11-23T09:00:00+01:00).',
    );
  }
  return remember(slotStartsRead, SLOT_STARTS_READ_MAX, slotStart!, start.setZone(PARIS));
}

/** Hash of what makes two requests "the same": the body, canonically ordered. */
export function requestHash(req: CallbackRequest): Buffer {
  const canonical = JSON.stringify(
    Object.fromEntries(
      Object.entries(req)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
  );
  return sha256(canonical);
}
