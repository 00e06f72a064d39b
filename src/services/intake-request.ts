import { createHmac } from 'node:crypto';
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
  // Luxon reads at most 30 digits of a fraction; past the nanosecond they change nothing it
  // keeps (hasSubMillisecondPart reads the text as written).
  const start =
    slotStart === undefined
      ? null
      : DateTime.fromISO(
          slotStart.replace(SECONDS_FRACTION, (_, digits: string) => `.${digits.slice(0, 9)}`),
          { setZone: true },
        );
  const year = start?.setZone(PARIS).year;
  if (!start?.isValid || year === undefined || year < FIRST_CALENDAR_YEAR || year > 9999) {
    throw new AppError(
      'VALIDATION_ERROR',
      'Champ « slotStart » non valide (corps de la requête) : date et heure ISO 8601 avec décalage attendues (ex. 2026-11-23T09:00:00+01:00).',
    );
  }
  const read =
    start.millisecond === 0 && hasSubMillisecondPart(slotStart!) ? start.plus({ milliseconds: 1 }) : start;
  return remember(slotStartsRead, SLOT_STARTS_READ_MAX, slotStart!, read.setZone(PARIS));
}

/**
 * The fraction of a second written after the time's seconds, if any: the only dot a date-time
 * the schema admits can hold (no comma, whatever the case of its `T`).
 */
const SECONDS_FRACTION = /\.(\d+)/;

/**
 * Whether the written time has a non-zero fraction below the millisecond, which luxon drops:
 * 09:00:00.0000001 would otherwise be read as the 09:00 window start. When the millisecond luxon
 * kept is 0 (the only case where the dropped part could make a window start), the time is read
 * one millisecond later: no window start either, and, as opening hours, closures and days begin
 * and end on whole minutes, inside them exactly when the written time is. Other times cannot be
 * window starts as read, and stay as they are.
 */
function hasSubMillisecondPart(text: string): boolean {
  const fraction = SECONDS_FRACTION.exec(text)?.[1];
  return fraction !== undefined && /[1-9]/.test(fraction.slice(3));
}

/**
 * What makes two requests under one Idempotency-Key "the same": the body, canonically ordered,
 * as an HMAC keyed by the Idempotency-Key. A plain SHA-256 of it (the phone as typed, the
 * domain, the mode, a window) was reversed from the table alone by trying the numbers (an outside
 * test found one in 4.5 s); the key, chosen by the client (random on the service-public pages),
 * is kept by the table only as its own hash. `matches` also takes the plain hash of the rows
 * written before, kept for their 24 hours.
 */
export interface RequestFingerprint {
  hash: Buffer;
  matches(stored: Buffer): boolean;
}

export function requestFingerprint(
  req: CallbackRequest,
  idempotencyKey: string | undefined,
): RequestFingerprint {
  const canonical = JSON.stringify(
    Object.fromEntries(
      Object.entries(req)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
  );
  const hash =
    idempotencyKey === undefined
      ? sha256(canonical)
      : createHmac('sha256', `rappel/idempotency/v1/request:${idempotencyKey}`)
          .update(canonical, 'utf8')
          .digest();
  return { hash, matches: (stored) => stored.equals(hash) || stored.equals(sha256(canonical)) };
}
