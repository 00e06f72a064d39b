import type { DateTime } from 'luxon';
import { normalizeFrenchPhone } from '../domain/phone.js';
import { todayIn } from '../domain/calendar/index.js';
import type { DomainCode } from '../domain/domains.js';
import { AppError } from '../http/errors.js';
import { findLiveKey, type StoredResponse } from '../repositories/idempotency.js';
import { isTransientConflict } from '../db/conflicts.js';
import { isoParis, type Core } from './core.js';
import type { CalendarService } from './calendar.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { LimitResult, RateLimiter } from './rate-limiter.js';
import type { SlotAnnouncer } from './slot-announcer.js';
import { phoneBucket } from './rate-limiter.js';
import { sha256 } from './tokens.js';
import { phoneDetail } from './intake-messages.js';
import { openAnswer, storedKey } from './idempotency-seal.js';
import { createContextMemory, SlotRefusal } from './intake-decision.js';
import {
  createBooking,
  duplicateRequest,
  keyLockOf,
  type CallbackRequest,
  type CreatedCallback,
} from './intake-booking.js';
import { whileKeyLockHeld } from '../repositories/intake.js';
import { readSlotStart, requestFingerprint, type RequestFingerprint } from './intake-request.js';

export interface IntakeResult {
  status: number;
  body: CreatedCallback;
  replayed: boolean;
}

/**
 * How long a request answered IDEMPOTENCY_KEY_IN_USE waits, in the background and holding a
 * pool connection, for the key's holder (a booking: milliseconds); past it, its count stands.
 */
const KEY_WAIT_MS = 2_000;

/** Bookings tried for one request: a reference drawn twice, or a decision made stale by a closure. */
const MAX_ATTEMPTS = 5;

export function createIntakeService(
  core: Core,
  calendar: CalendarService,
  outbox: OutboxRelay,
  limiter: RateLimiter,
  slotAnnouncer: SlotAnnouncer,
  bucketSecret?: string,
) {
  const { config } = core;
  const contextOf = createContextMemory(core);
  const decideAndBook = createBooking(core, calendar);

  /**
   * The first three bookable windows, as calendar.nextSlots gives them, looked for in the next
   * two days first: the whole horizon costs ~15× the calendar work, paid by every refusal.
   */
  async function nextSlotsOf(domain: DomainCode) {
    const now = core.clock.now();
    const soon = await calendar.bookable(core.db, domain, todayIn(now), 2, now);
    if (soon.length < 3) return calendar.nextSlots(core.db, domain, now);
    return soon.slice(0, 3).map((s) => ({ start: isoParis(s.window.start), end: isoParis(s.window.end) }));
  }

  /** The stored first answer again, if this is the same request; a reused key otherwise. */
  function replayOf(stored: StoredResponse, fp: RequestFingerprint, idempotencyKey: string): IntakeResult {
    if (!fp.matches(stored.requestHash)) {
      throw new AppError(
        'IDEMPOTENCY_KEY_REUSED',
        'Cette clé d’idempotence a déjà servi pour une autre demande.',
      );
    }
    const body = openAnswer(stored.body as CreatedCallback, idempotencyKey);
    return { status: stored.status, body, replayed: true };
  }

  /** The live stored answer of this key, replayed (or refused as a reused key); null if none. */
  async function earlierAnswer(idempotencyKey: string, fp: RequestFingerprint): Promise<IntakeResult | null> {
    const stored = await findLiveKey(core.db, storedKey(idempotencyKey), core.clock.now().toJSDate());
    return stored ? replayOf(stored, fp, idempotencyKey) : null;
  }

  /** Settlements of demands whose key was in use, still waiting for the key's holder. */
  const pending = new Set<Promise<void>>();

  const inUse = (err: unknown) => err instanceof AppError && err.code === 'IDEMPOTENCY_KEY_IN_USE';

  /**
   * This request counted its demand, then found its key held by another request. Once that one
   * is done: if it created this same request's callback (its stored answer has this body), the
   * count stands for it; otherwise this hit is given back. If the wait fails, it stands (the
   * limit errs towards refusing).
   */
  async function settleAfterCopy(idempotencyKey: string, fp: RequestFingerprint, counted: LimitResult) {
    try {
      // Read and given back while the key's lock is held: a copy booking after this finds the
      // demand unmarked and counts itself; one that booked before left its answer to be seen.
      await whileKeyLockHeld(core.db, keyLockOf(idempotencyKey), KEY_WAIT_MS, async () => {
        const stored = await findLiveKey(core.db, storedKey(idempotencyKey), core.clock.now().toJSDate());
        if (!stored || !fp.matches(stored.requestHash)) await counted.refund();
      });
    } catch (err) {
      core.log.warn(
        { err: { message: (err as Error).message } },
        'per-phone limit: a demand whose key was in use stays counted',
      );
    }
  }

  /** A callback a copy created, found past the limit when it came to count it: it stands. */
  const logLate = (err: unknown) =>
    core.log.warn(
      { err: { message: (err as Error).message } },
      'per-phone limit: a callback created by a copy of a request could not be counted',
    );

  /**
   * Counts a demand against the phone's daily limit (429 past it, not counted). The hit is taken
   * back for a request that creates nothing (a refusal, an error): the limit counts the callbacks
   * a number was given in a day, not a citizen's tries at a full or closed window. Copies of one
   * request (same Idempotency-Key, same body) are one demand, counted once: copies sent while
   * the first is still running go on to be replayed (or answered 409 IDEMPOTENCY_KEY_IN_USE),
   * not refused for the others' counts. Another body under the same key is another demand.
   */
  async function countDemand(e164: string, demand: string | undefined): Promise<LimitResult | null> {
    if (config.rateLimitPerPhonePerDay <= 0) return null;
    const r = await limiter.hit(
      `phone:${phoneBucket(e164, bucketSecret)}`,
      config.rateLimitPerPhonePerDay,
      86_400,
      demand,
    );
    if (r.allowed) return r;
    throw new AppError(
      'RATE_LIMITED',
      'Trop de demandes pour ce numéro aujourd’hui. Réessayez demain ou appelez le 3939.',
      { reason: 'phone' },
      { 'retry-after': String(r.retryAfterSeconds) },
    );
  }

  /** Decides and books, deciding again on a stale decision or a taken reference. */
  async function book(
    req: CallbackRequest,
    slotStart: DateTime | null,
    phone: { e164: string; region: string },
    fp: RequestFingerprint,
    idempotencyKey: string | undefined,
  ): Promise<IntakeResult> {
    let fresh = false;
    for (let attempt = 1; ; attempt++) {
      let outcome: Awaited<ReturnType<typeof decideAndBook>>;
      try {
        const now = core.clock.now();
        const ctx = await contextOf(req.domain, slotStart ?? now, fresh);
        outcome = await decideAndBook(req, slotStart, phone, fp.hash, idempotencyKey, ctx, now);
      } catch (err) {
        // A key's first answer is replayed even if the same request would be refused now (its
        // slot has passed, or its own callback makes it a duplicate): rappel_book checks the
        // key only when it is called.
        const refused =
          err instanceof SlotRefusal || (err instanceof AppError && err.code === 'DUPLICATE_REQUEST');
        if (refused && idempotencyKey !== undefined) {
          const earlier = await earlierAnswer(idempotencyKey, fp);
          if (earlier) return earlier;
        }
        // A SlotRefusal goes up as it is: create() gives the demand's count back first, then
        // adds nextSlots (several calendar reads) to the answer.
        if (err instanceof SlotRefusal) throw err;
        const e = err as { code?: string; constraint?: string };
        // Committed concurrently by another request for the same phone and domain.
        if (e.code === '23505' && e.constraint === 'callbacks_active_phone_domain') throw duplicateRequest();
        // The drawn reference exists already (one in 300 at a million callbacks): draw again.
        if (e.code === '23505' && e.constraint === 'callbacks_reference_key') {
          if (attempt < MAX_ATTEMPTS) continue;
          throw new AppError(
            'SERVICE_UNAVAILABLE',
            'Aucune référence libre n’a pu être tirée. Réessayez dans un instant.',
            {},
            { 'retry-after': '1' },
          );
        }
        throw err;
      }
      if (outcome === 'stale') {
        // A closure or an informateur's activation committed since the closures and staffing
        // were read (or a refusal was about to rest on remembered ones): nothing was written;
        // read them again and decide again.
        if (attempt >= MAX_ATTEMPTS) {
          throw new AppError(
            'SERVICE_UNAVAILABLE',
            'Le calendrier change en ce moment. Réessayez dans un instant.',
            {},
            { 'retry-after': '1' },
          );
        }
        fresh = true;
        continue;
      }
      if ('replay' in outcome) return replayOf(outcome.replay, fp, idempotencyKey!);
      // Its window's new count, which its transaction left to announce (migrations/0004).
      if (req.mode === 'slot') slotAnnouncer.changed(req.domain);
      // Its job goes to the queue right after, without holding the answer: the outbox row
      // committed with the booking is the guarantee (a sweep sends what this misses).
      void outbox.sendNow([outcome.outbox]);
      return { status: 201, body: outcome.created, replayed: false };
    }
  }

  return {
    /** Resolves once the demands whose key was in use are settled (tests; they take milliseconds). */
    settled: async (): Promise<void> => {
      await Promise.all(pending);
    },

    async create(req: CallbackRequest, idempotencyKey: string | undefined): Promise<IntakeResult> {
      const phone = normalizeFrenchPhone(req.phone);
      if (!phone.ok) {
        throw new AppError('INVALID_PHONE', phoneDetail(phone.reason), { reason: phone.reason });
      }
      const fp = requestFingerprint(req, idempotencyKey);
      const slotStart = req.mode === 'slot' ? readSlotStart(req.slotStart) : null;
      // A replay is the first answer again, not a new demand: it is not counted against the
      // phone's daily limit (rappel_book still settles races on the key, and answers replays
      // itself when the limit is off).
      if (idempotencyKey !== undefined && config.rateLimitPerPhonePerDay > 0) {
        const earlier = await earlierAnswer(idempotencyKey, fp);
        if (earlier) return earlier;
      }
      const demand =
        idempotencyKey === undefined
          ? undefined
          : sha256(`rappel-demand:${idempotencyKey}:${fp.hash.toString('hex')}`)
              .subarray(0, 16)
              .toString('hex');
      const counted = await countDemand(phone.e164, demand);
      let result: IntakeResult;
      try {
        result = await book(req, slotStart, phone, fp, idempotencyKey);
      } catch (err) {
        // The key in use by a copy of this request, one demand with it: whether this hit stays
        // counted depends on what the copy does, settled once it is done (the answer does not wait).
        if (inUse(err) && counted && !counted.alreadyCounted && idempotencyKey !== undefined) {
          const settling = settleAfterCopy(idempotencyKey, fp, counted);
          pending.add(settling);
          void settling.finally(() => pending.delete(settling));
        }
        // Any other refusal (another body under the key included), or a transaction PostgreSQL
        // rolled back (deadlock, serialization), wrote nothing. An unknown error (a connection
        // lost at COMMIT, say) may have created the callback: its hit stays counted.
        else if (err instanceof AppError || err instanceof SlotRefusal || isTransientConflict(err))
          await counted?.refund();
        if (err instanceof SlotRefusal) {
          const nextSlots = await nextSlotsOf(err.domain);
          throw new AppError(err.code, err.detail, { ...err.extra, nextSlots });
        }
        throw err;
      }
      // A replay here answers a copy of this request that created the callback meanwhile
      // (replays of an earlier answer are answered before counting): the demand stays counted,
      // by this hit or the copy's. A copy let through uncounted that created the callback itself
      // counts it now, unless the hit that counted the demand is still standing.
      if (!result.replayed && counted?.alreadyCounted) await countDemand(phone.e164, demand).catch(logLate);
      return result;
    },
  };
}
