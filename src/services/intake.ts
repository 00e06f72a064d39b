import { randomBytes, randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import { normalizeFrenchPhone } from '../domain/phone.js';
import { makeReference } from '../domain/reference.js';
import { decideAsap, waitingThatMatters } from '../domain/asap.js';
import { openIntervalAt, todayIn, ZONE } from '../domain/calendar/index.js';
import type { DomainCode } from '../domain/domains.js';
import { AppError } from '../http/errors.js';
import { insertCallback, countWaiting } from '../repositories/callbacks.js';
import { recordEvents } from '../repositories/callback-events.js';
import { enqueueOutbox } from '../repositories/outbox.js';
import { bookedInRange, takePlace } from '../repositories/window-load.js';
import { countAvailableInDomain } from '../repositories/agents.js';
import { findLiveKey, storeKey, tryLockKey } from '../repositories/idempotency.js';
import { listClosures, lockCalendarShared } from '../repositories/closures.js';
import { callbackDueJobId } from '../queue/jobs.js';
import { isoParis, type Core } from './core.js';
import type { CalendarService } from './calendar.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { RateLimiter } from './rate-limiter.js';
import { phoneBucket } from './rate-limiter.js';
import { newToken, sha256 } from './tokens.js';
import { asapDetail, closedDetail, phoneDetail, slotDetail } from './intake-messages.js';

export interface CallbackRequest {
  domain: DomainCode;
  phone: string;
  mode: 'slot' | 'asap';
  slotStart?: string;
  ficheId?: string;
  subject?: string;
  consent: boolean;
}

export interface CreatedCallback {
  id: string;
  reference: string;
  status: 'scheduled' | 'queued';
  domain: DomainCode;
  mode: 'slot' | 'asap';
  window: { start: string; end: string };
  cancelToken: string;
}

export interface IntakeResult {
  status: number;
  body: CreatedCallback;
  replayed: boolean;
}

const IDEMPOTENCY_TTL_HOURS = 24;

/** A refusal that offers the next bookable windows (added after the transaction). */
class SlotRefusal extends Error {
  constructor(
    readonly code:
      'CENTRE_CLOSED' | 'OUTSIDE_OPENING_HOURS' | 'SLOT_NOT_AVAILABLE' | 'SLOT_FULL' | 'ASAP_UNAVAILABLE',
    readonly detail: string,
    readonly extra: Record<string, unknown>,
    readonly domain: DomainCode,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'SlotRefusal';
  }
}

/** Hash of what makes two requests "the same": the body, canonically ordered. */
function requestHash(req: CallbackRequest): Buffer {
  const canonical = JSON.stringify(
    Object.fromEntries(
      Object.entries(req)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => a.localeCompare(b)),
    ),
  );
  return sha256(canonical);
}

export function createIntakeService(
  core: Core,
  calendar: CalendarService,
  outbox: OutboxRelay,
  limiter: RateLimiter,
) {
  const { config } = core;

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

  /**
   * Refuses inside the transaction; `create` adds nextSlots once it has rolled back. Computing
   * them inside would hold the window's load row (locked by takePlace, even when full) for
   * several more queries, serialising a burst on one window until pool waits time out (503).
   */
  async function refuseSlot(
    _tx: Transaction<DB>,
    domain: DomainCode,
    code: SlotRefusal['code'],
    detail: string,
    extra: Record<string, unknown> = {},
  ): Promise<never> {
    throw new SlotRefusal(code, detail, extra, domain);
  }

  async function createInTx(
    tx: Transaction<DB>,
    req: CallbackRequest,
    phone: { e164: string; region: string },
    now: DateTime,
  ) {
    let status: 'scheduled' | 'queued';
    let windowStart: DateTime;
    let windowEnd: DateTime;

    if (req.mode === 'slot') {
      // Bookings share this lock; a new closure takes it exclusively, so a booking is either
      // seen by the closure (and moved or reported) or sees the closure.
      await lockCalendarShared(tx);
      const start = DateTime.fromISO(req.slotStart!, { setZone: true });
      const check = await calendar.checkSlot(tx, start, now);
      if (!check.ok) {
        switch (check.code) {
          case 'CENTRE_CLOSED':
            return refuseSlot(tx, req.domain, 'CENTRE_CLOSED', closedDetail(check.reason), {
              reason: check.reason,
            });
          case 'OUTSIDE_OPENING_HOURS':
            return refuseSlot(
              tx,
              req.domain,
              'OUTSIDE_OPENING_HOURS',
              "Le centre est ouvert ce jour-là, mais pas à l'heure demandée.",
            );
          case 'SLOT_NOT_AVAILABLE':
            return refuseSlot(tx, req.domain, 'SLOT_NOT_AVAILABLE', slotDetail(check.reason), {
              reason: check.reason,
            });
        }
      }
      status = 'scheduled';
      windowStart = check.window.start;
      windowEnd = check.window.end;
    } else {
      const today = now.setZone(ZONE).toISODate()!;
      const interval = openIntervalAt(now, calendar.settings, await listClosures(tx, today, today));
      const available = await countAvailableInDomain(tx, req.domain);
      const decision = decideAsap({
        now,
        closingAt: interval?.end ?? null,
        availableInformateurs: available,
        waitingCallbacks: await countWaiting(
          tx,
          req.domain,
          waitingThatMatters(available, config.asapPromiseMinutes),
        ),
        promiseMinutes: config.asapPromiseMinutes,
      });
      if (!decision.ok) {
        return refuseSlot(
          tx,
          req.domain,
          'ASAP_UNAVAILABLE',
          asapDetail(decision.reason, config.asapPromiseMinutes),
          { reason: decision.reason },
        );
      }
      status = 'queued';
      windowStart = decision.window.start;
      windowEnd = decision.window.end;
    }

    const id = randomUUID();
    const cancelToken = newToken();
    let reference = '';
    for (let attempt = 0; ; attempt++) {
      reference = makeReference(randomBytes);
      const inserted = await insertCallback(tx, {
        id,
        reference,
        domain: req.domain,
        mode: req.mode,
        status,
        phone: phone.e164,
        phoneRegion: phone.region,
        ficheId: req.ficheId ?? null,
        subject: req.subject ?? null,
        windowStart: windowStart.toJSDate(),
        windowEnd: windowEnd.toJSDate(),
        dueAt: windowStart.toJSDate(),
        cancelTokenHash: sha256(cancelToken),
        now: now.toJSDate(),
      });
      if (inserted.ok) break;
      if (inserted.conflict === 'duplicate') {
        throw new AppError(
          'DUPLICATE_REQUEST',
          'Une demande de rappel est déjà en cours pour ce numéro dans ce domaine.',
        );
      }
      if (attempt >= 5) throw new Error('could not draw a free reference');
    }

    if (req.mode === 'slot') {
      // After the duplicate check, as the contract orders refusals; guarded, never overbooks.
      const capacity = await calendar.capacityOf(tx, req.domain);
      // A window already full is refused from a plain read, without queueing on its row lock
      // (a burst on one window would otherwise serialise); takePlace decides the last places.
      const booked = await bookedInRange(tx, req.domain, windowStart.toJSDate(), windowEnd.toJSDate());
      const full = (booked.get(windowStart.toMillis()) ?? 0) >= capacity;
      if (full || !(await takePlace(tx, req.domain, windowStart.toJSDate(), capacity))) {
        return refuseSlot(
          tx,
          req.domain,
          'SLOT_FULL',
          'Ce créneau est complet. Choisissez un autre créneau.',
        );
      }
    }

    await recordEvents(tx, [
      {
        callbackId: id,
        type: 'created',
        fromStatus: null,
        toStatus: status,
        actor: 'citizen',
        at: now.toJSDate(),
        data: { mode: req.mode },
      },
    ]);
    const outboxIds: number[] = [];
    if (status === 'scheduled') {
      outboxIds.push(
        await enqueueOutbox(
          tx,
          {
            jobName: 'callback-due',
            jobId: callbackDueJobId(id, windowStart.toJSDate()),
            payload: { callbackId: id, dueAt: windowStart.toISO() },
            runAt: windowStart.toJSDate(),
          },
          now.toJSDate(),
        ),
      );
    } else {
      // Queued at once (asap): offer it to an idle informateur of the domain without waiting.
      outboxIds.push(
        await enqueueOutbox(
          tx,
          {
            jobName: 'dispatch',
            jobId: `dispatch-${req.domain}-${id}`,
            payload: { domain: req.domain },
            runAt: now.toJSDate(),
          },
          now.toJSDate(),
        ),
      );
    }
    const body: CreatedCallback = {
      id,
      reference,
      status,
      domain: req.domain,
      mode: req.mode,
      window: { start: isoParis(windowStart), end: isoParis(windowEnd) },
      cancelToken,
    };
    return { body, outboxIds };
  }

  return {
    async create(req: CallbackRequest, idempotencyKey: string | undefined): Promise<IntakeResult> {
      const phone = normalizeFrenchPhone(req.phone);
      if (!phone.ok) {
        throw new AppError('INVALID_PHONE', phoneDetail(phone.reason), { reason: phone.reason });
      }
      const hash = requestHash(req);
      // A replay is the first answer again, not a new demand: it is not counted against the
      // phone's daily limit (the transaction below still settles races on the key).
      const earlier =
        idempotencyKey === undefined
          ? null
          : await findLiveKey(core.db, idempotencyKey, core.clock.now().toJSDate());
      if (earlier && earlier.requestHash.equals(hash)) {
        return { status: earlier.status, body: earlier.body as CreatedCallback, replayed: true };
      }
      if (config.rateLimitPerPhonePerDay > 0) {
        const r = await limiter.hit(
          `phone:${phoneBucket(phone.e164)}`,
          config.rateLimitPerPhonePerDay,
          86_400,
        );
        if (!r.allowed) {
          throw new AppError(
            'RATE_LIMITED',
            'Trop de demandes pour ce numéro aujourd’hui. Réessayez demain ou appelez le 3939.',
            {},
            { 'retry-after': String(r.retryAfterSeconds) },
          );
        }
      }
      const keyHash = idempotencyKey === undefined ? null : sha256(`idem:${idempotencyKey}`);
      const outcome = await core.db
        .transaction()
        .execute(async (tx) => {
          const now = core.clock.now();
          if (keyHash && idempotencyKey !== undefined) {
            if (!(await tryLockKey(tx, keyHash))) {
              throw new AppError(
                'IDEMPOTENCY_KEY_IN_USE',
                'Une requête avec cette clé d’idempotence est encore en cours.',
              );
            }
            const stored = await findLiveKey(tx, idempotencyKey, now.toJSDate());
            if (stored) {
              if (!stored.requestHash.equals(hash)) {
                throw new AppError(
                  'IDEMPOTENCY_KEY_REUSED',
                  'Cette clé d’idempotence a déjà servi pour une autre demande.',
                );
              }
              return { replay: stored, created: null };
            }
          }
          const created = await createInTx(tx, req, phone, now);
          if (idempotencyKey !== undefined) {
            await storeKey(
              tx,
              idempotencyKey,
              hash,
              201,
              created.body,
              now.toJSDate(),
              now.plus({ hours: IDEMPOTENCY_TTL_HOURS }).toJSDate(),
            );
          }
          return { replay: null, created };
        })
        .catch(async (err: unknown) => {
          if (!(err instanceof SlotRefusal)) throw err;
          const nextSlots = await nextSlotsOf(err.domain);
          throw new AppError(err.code, err.detail, { ...err.extra, nextSlots });
        });
      if (outcome.replay) {
        return {
          status: outcome.replay.status,
          body: outcome.replay.body as CreatedCallback,
          replayed: true,
        };
      }
      const { created } = outcome;
      if (!created) throw new Error('unreachable');
      await outbox.relayNow(created.outboxIds);
      return { status: 201, body: created.body, replayed: false };
    },
  };
}
