import { DateTime } from 'luxon';
import { formatDate, parseDateParts, type DateParts } from './civil-date.js';
import { PARIS } from './types.js';
import { remember } from '../bounded-cache.js';

const TIME_PATTERN = /^(\d{2}):(\d{2})$/;

/** Minutes since local midnight of a strict `HH:mm` (00:00–23:59), or null. */
export function parseHhmm(hhmm: string): number | null {
  const match = TIME_PATTERN.exec(hhmm);
  if (match === null) return null;
  const hour = Number(match[1]);
  const minute = Number(match[2]);
  if (hour > 23 || minute > 59) return null;
  return hour * 60 + minute;
}

function requireValid(instant: DateTime): DateTime {
  if (!instant.isValid) throw new RangeError(`invalid DateTime: ${instant.invalidReason ?? 'unknown'}`);
  return instant;
}

/** The instant seen on a Paris wall clock. */
export function inZone(instant: DateTime): DateTime {
  return requireValid(instant).setZone(PARIS);
}

/** Paris date of `now`. */
export function todayIn(now: DateTime): string {
  return parisDateOf(now);
}

export function parisDateOf(instant: DateTime): string {
  const local = inZone(instant);
  return formatDate({ year: local.year, month: local.month, day: local.day });
}

/** Minutes (with fraction) since Paris midnight of the instant's Paris date. */
export function wallMinutesOf(instant: DateTime): number {
  const local = inZone(instant);
  return local.hour * 60 + local.minute + (local.second * 1000 + local.millisecond) / 60_000;
}

/**
 * Instants made by atWallMinutes, by date and minutes: the opening intervals of the same few days
 * are asked for by every booking and slot listing, and luxon takes microseconds to place a wall
 * time in the zone. (A pure function's results: DateTime values are immutable.)
 */
const wallInstants = new Map<string, DateTime>();
const WALL_INSTANTS_MAX = 4_096;

/** The Paris instant at `minutes` past local midnight of a date (0 <= minutes < 1440). */
export function atWallMinutes(parts: DateParts, minutes: number): DateTime {
  const key = `${parts.year}-${parts.month}-${parts.day}|${minutes}`;
  const known = wallInstants.get(key);
  if (known !== undefined) return known;
  const instant = DateTime.fromObject(
    { ...parts, hour: Math.floor(minutes / 60), minute: minutes % 60 },
    { zone: PARIS },
  );
  return remember(wallInstants, WALL_INSTANTS_MAX, key, instant);
}

function sameWallTime(instant: DateTime, parts: DateParts, hour: number, minute: number): boolean {
  return (
    instant.year === parts.year &&
    instant.month === parts.month &&
    instant.day === parts.day &&
    instant.hour === hour &&
    instant.minute === minute
  );
}

/**
 * The Paris instant of a local date and `HH:mm`, or null when the text is malformed, the date does not
 * exist, the time falls in the spring-forward gap (Luxon shifts it, so it does not round-trip), or the
 * time is ambiguous (autumn fall-back: another offset of the zone gives the same wall time).
 */
export function parseLocalTime(date: string, hhmm: string): DateTime | null {
  const parts = parseDateParts(date);
  const minutes = parseHhmm(hhmm);
  if (parts === null || minutes === null) return null;
  const hour = Math.floor(minutes / 60);
  const minute = minutes % 60;
  const instant = DateTime.fromObject({ ...parts, hour, minute }, { zone: PARIS });
  if (!instant.isValid || !sameWallTime(instant, parts, hour, minute)) return null;

  const wallAsUtc = DateTime.fromObject({ ...parts, hour, minute }, { zone: 'utc' }).toMillis();
  // Offsets in force a few hours either side cover both sides of any transition touching this time.
  for (const probe of [instant.minus({ hours: 6 }), instant.plus({ hours: 6 })]) {
    const other = DateTime.fromMillis(wallAsUtc - probe.offset * 60_000, { zone: PARIS });
    if (other.toMillis() !== instant.toMillis() && sameWallTime(other, parts, hour, minute)) return null;
  }
  return instant;
}
