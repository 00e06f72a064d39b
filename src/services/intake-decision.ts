import type { DateTime } from 'luxon';
import { decideAsap, waitingThatMatters } from '../domain/asap.js';
import {
  checkSlotStart,
  openIntervalAt,
  PARIS,
  type CalendarSettings,
  type Closure,
} from '../domain/calendar/index.js';
import type { DomainCode } from '../domain/domains.js';
import { availableStaffing } from '../repositories/agents.js';
import { countWaiting } from '../repositories/callbacks.js';
import { readIntakeContext, type IntakeContext } from '../repositories/intake.js';
import type { Core } from './core.js';
import { asapDetail, closedDetail, slotDetail } from './intake-messages.js';
import { remember } from '../domain/bounded-cache.js';

/** How long intake trusts the closures and staffing it read (see createContextMemory). */
const CONTEXT_MEMORY_MS = 5_000;
const CONTEXT_MEMORY_MAX = 500;

/** What a booking decision rests on; `remembered`: read by an earlier request. */
export type Context = IntakeContext & { date: string; remembered: boolean };

/**
 * The closures of a date and the staffing of a domain, as last read, for CONTEXT_MEMORY_MS:
 * they change a few times a day, and rappel_book checks them again under its locks anyway
 * (a change makes it answer 'stale', and they are read again, `fresh`). Saves a round trip per
 * booking.
 */
export function createContextMemory(core: Core) {
  const remembered = new Map<string, { ctx: Context; readAt: number }>();
  /** For the Paris day of `day` (the slot's start, or now for asap) and `domain`. */
  return async function contextOf(domain: DomainCode, day: DateTime, fresh: boolean): Promise<Context> {
    const date = day.setZone(PARIS).toISODate()!;
    const key = `${date}|${domain}`;
    const hit = remembered.get(key);
    if (!fresh && hit && performance.now() - hit.readAt < CONTEXT_MEMORY_MS) return hit.ctx;
    const read = await readIntakeContext(core.db, { date, domain });
    remember(remembered, CONTEXT_MEMORY_MAX, key, {
      ctx: { ...read, date, remembered: true },
      readAt: performance.now(),
    });
    return { ...read, date, remembered: false };
  };
}

/** A refusal that offers the next bookable windows (intake adds them once it has decided). */
export class SlotRefusal extends Error {
  constructor(
    readonly code:
      'CENTRE_CLOSED' | 'OUTSIDE_OPENING_HOURS' | 'SLOT_NOT_AVAILABLE' | 'SLOT_FULL' | 'ASAP_UNAVAILABLE',
    readonly detail: string,
    readonly extra: Record<string, unknown>,
    readonly domain: DomainCode,
    /**
     * Whether the booking must first look for a duplicate, and refuse that instead: a full line
     * (asap: nobody free, the queue too long for the promise or for closing time), which the
     * contract orders after DUPLICATE_REQUEST. (SLOT_FULL ranks there too, but rappel_book
     * decides it after its own duplicate check.) A closed centre, like every calendar refusal,
     * comes first.
     */
    readonly checkDuplicateFirst = false,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'SlotRefusal';
  }
}

export type WindowDecision =
  { status: 'scheduled' | 'queued'; windowStart: DateTime; windowEnd: DateTime } | { refusal: SlotRefusal };

/**
 * The callback's window, by the calendar rules (slot, `slotStart` in Paris time: the requested
 * window, bookable given the closures of its day) or the asap promise (the centre open now, informateurs available, the
 * waiting queue short enough). Reads only what the asap estimate needs; the window's places
 * are the booking's business (rappel_book).
 */
export async function decideWindow(
  core: Core,
  settings: CalendarSettings,
  domain: DomainCode,
  slotStart: DateTime | null,
  closures: readonly Closure[],
  now: DateTime,
): Promise<WindowDecision> {
  if (slotStart) {
    const check = checkSlotStart(slotStart, now, settings, closures);
    if (check.ok)
      return { status: 'scheduled', windowStart: check.window.start, windowEnd: check.window.end };
    switch (check.code) {
      case 'CENTRE_CLOSED':
        return {
          refusal: new SlotRefusal(
            'CENTRE_CLOSED',
            closedDetail(check.reason),
            // The holiday's name or the closure's reason, as /v1/opening-hours gives it.
            { reason: check.reason, ...(check.label !== null ? { label: check.label } : {}) },
            domain,
          ),
        };
      case 'OUTSIDE_OPENING_HOURS':
        return {
          refusal: new SlotRefusal(
            'OUTSIDE_OPENING_HOURS',
            "Le centre est ouvert ce jour-là, mais pas à l'heure demandée.",
            {},
            domain,
          ),
        };
      case 'SLOT_NOT_AVAILABLE':
        return {
          refusal: new SlotRefusal(
            'SLOT_NOT_AVAILABLE',
            slotDetail(check.reason),
            { reason: check.reason },
            domain,
          ),
        };
    }
  }
  const promise = core.config.asapPromiseMinutes;
  const interval = openIntervalAt(now, settings, closures);
  const staffing = await availableStaffing(core.db, domain);
  const shared = staffing.poolDomains.length > 1;
  const decision = decideAsap({
    now,
    closingAt: interval?.end ?? null,
    availableInformateurs: staffing.informateurs,
    waitingCallbacks: await countWaiting(
      core.db,
      [domain],
      waitingThatMatters(staffing.informateurs, promise),
    ),
    // With each informateur in this domain only, the pool is the domain: nothing more to read.
    ...(shared
      ? {
          pool: {
            informateurs: staffing.poolInformateurs,
            waitingCallbacks: await countWaiting(
              core.db,
              staffing.poolDomains,
              waitingThatMatters(staffing.poolInformateurs, promise),
            ),
          },
        }
      : {}),
    promiseMinutes: promise,
  });
  // The end kept in whole seconds, as shown (isoParis): the promise ends less than a second
  // sooner. The start stays the instant of acceptance: it is also when the callback became due,
  // from which dispatch latency is measured (shown, it is cut to its second).
  if (decision.ok)
    return {
      status: 'queued',
      windowStart: decision.window.start,
      windowEnd: decision.window.end.startOf('second'),
    };
  return {
    refusal: new SlotRefusal(
      'ASAP_UNAVAILABLE',
      asapDetail(decision.reason, promise),
      { reason: decision.reason },
      domain,
      decision.reason !== 'closed',
    ),
  };
}
