import { randomBytes, randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import type { Transaction } from 'kysely';
import type { DB } from '../db/schema.js';
import { normalizeFrenchPhone } from '../domain/phone.js';
import { makeReference } from '../domain/reference.js';
import { decideAsap, waitingThatMatters } from '../domain/asap.js';
import { checkSlotStart, openIntervalAt, todayIn, ZONE } from '../domain/calendar/index.js';
import type { DomainCode } from '../domain/domains.js';
import { AppError } from '../http/errors.js';
import { countWaiting } from '../repositories/callbacks.js';
import type { OutboxRow } from '../repositories/outbox.js';
import { countAvailableInDomain } from '../repositories/agents.js';
import { findLiveKey, type StoredResponse } from '../repositories/idempotency.js';
import { insertBooking, readIntakeContext, takeIntakeLocks } from '../repositories/intake.js';
import { windowCapacity } from '../domain/capacity.js';
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

const duplicateRequest = () =>
  new AppError(
    'DUPLICATE_REQUEST',
    'Une demande de rappel est déjà en cours pour ce numéro dans ce domaine.',
  );

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
   * Decides and writes one callback inside the transaction: locks, one read of everything the
   * decision needs, the pure calendar/asap rules, then one write statement (see
   * repositories/intake.ts). Slot refusals are thrown as SlotRefusal: `create` adds nextSlots
   * once the transaction has rolled back, so no lock is held while they are computed.
   */
  async function createInTx(
    tx: Transaction<DB>,
    req: CallbackRequest,
    phone: { e164: string; region: string },
    hash: Buffer,
    idempotencyKey: string | undefined,
    now: DateTime,
  ): Promise<{ replay: StoredResponse } | { created: CreatedCallback; outbox: OutboxRow }> {
    const slot = req.mode === 'slot';
    const keyLock = idempotencyKey === undefined ? null : sha256(`idem:${idempotencyKey}`).readBigInt64BE(0);
    // Bookings share the calendar lock; a new closure takes it exclusively, so a booking is
    // either seen by the closure (and moved or reported) or sees the closure.
    if (!(await takeIntakeLocks(tx, keyLock, slot)).keyLocked) {
      throw new AppError(
        'IDEMPOTENCY_KEY_IN_USE',
        'Une requête avec cette clé d’idempotence est encore en cours.',
      );
    }
    const start = slot ? DateTime.fromISO(req.slotStart!, { setZone: true }) : null;
    const ctx = await readIntakeContext(tx, {
      key: idempotencyKey ?? null,
      now: now.toJSDate(),
      date: (start ?? now).setZone(ZONE).toISODate()!,
      domain: req.domain,
    });
    if (ctx.stored) {
      if (!ctx.stored.requestHash.equals(hash)) {
        throw new AppError(
          'IDEMPOTENCY_KEY_REUSED',
          'Cette clé d’idempotence a déjà servi pour une autre demande.',
        );
      }
      return { replay: ctx.stored };
    }

    let status: 'scheduled' | 'queued';
    let windowStart: DateTime;
    let windowEnd: DateTime;
    if (start) {
      const check = checkSlotStart(start.setZone(ZONE), now, calendar.settings, ctx.closures);
      if (!check.ok) {
        switch (check.code) {
          case 'CENTRE_CLOSED':
            throw new SlotRefusal(
              'CENTRE_CLOSED',
              closedDetail(check.reason),
              { reason: check.reason },
              req.domain,
            );
          case 'OUTSIDE_OPENING_HOURS':
            throw new SlotRefusal(
              'OUTSIDE_OPENING_HOURS',
              "Le centre est ouvert ce jour-là, mais pas à l'heure demandée.",
              {},
              req.domain,
            );
          case 'SLOT_NOT_AVAILABLE':
            throw new SlotRefusal(
              'SLOT_NOT_AVAILABLE',
              slotDetail(check.reason),
              { reason: check.reason },
              req.domain,
            );
        }
      }
      status = 'scheduled';
      windowStart = check.window.start;
      windowEnd = check.window.end;
    } else {
      const interval = openIntervalAt(now, calendar.settings, ctx.closures);
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
        throw new SlotRefusal(
          'ASAP_UNAVAILABLE',
          asapDetail(decision.reason, config.asapPromiseMinutes),
          { reason: decision.reason },
          req.domain,
        );
      }
      status = 'queued';
      windowStart = decision.window.start;
      windowEnd = decision.window.end;
    }

    const id = randomUUID();
    const cancelToken = newToken();
    const body: CreatedCallback = {
      id,
      reference: makeReference(randomBytes),
      status,
      domain: req.domain,
      mode: req.mode,
      window: { start: isoParis(windowStart), end: isoParis(windowEnd) },
      cancelToken,
    };
    const result = await insertBooking(tx, {
      callback: {
        id,
        reference: body.reference,
        domain: req.domain,
        mode: req.mode,
        status,
        phone: phone.e164,
        phoneRegion: phone.region,
        ficheId: req.ficheId ?? null,
        subject: req.subject ?? null,
        windowStart: windowStart.toJSDate(),
        windowEnd: windowEnd.toJSDate(),
        cancelTokenHash: sha256(cancelToken),
      },
      // After the duplicate check, as the contract orders refusals; guarded, never overbooks.
      capacity: slot
        ? windowCapacity({ activeInformateurs: ctx.activeInDomain }, config.callbacksPerAgentPerSlot)
        : null,
      event: { type: 'created', toStatus: status, actor: 'citizen', data: { mode: req.mode } },
      outbox:
        status === 'scheduled'
          ? {
              jobName: 'callback-due',
              jobId: callbackDueJobId(id, windowStart.toJSDate()),
              payload: { callbackId: id, dueAt: windowStart.toISO() },
              runAt: windowStart.toJSDate(),
            }
          : {
              // Queued at once (asap): offer it to an idle informateur of the domain without waiting.
              jobName: 'dispatch',
              jobId: `dispatch-${req.domain}-${id}`,
              payload: { domain: req.domain },
              runAt: now.toJSDate(),
            },
      idempotency:
        idempotencyKey === undefined
          ? null
          : {
              key: idempotencyKey,
              requestHash: hash,
              status: 201,
              body,
              expiresAt: now.plus({ hours: IDEMPOTENCY_TTL_HOURS }).toJSDate(),
            },
      now: now.toJSDate(),
    });
    if (!result.ok) {
      if (result.refusal === 'duplicate') throw duplicateRequest();
      throw new SlotRefusal(
        'SLOT_FULL',
        'Ce créneau est complet. Choisissez un autre créneau.',
        {},
        req.domain,
      );
    }
    return { created: body, outbox: result.outbox };
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
        idempotencyKey === undefined || config.rateLimitPerPhonePerDay <= 0
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
      for (let attempt = 0; ; attempt++) {
        let outcome: Awaited<ReturnType<typeof createInTx>>;
        try {
          outcome = await core.db
            .transaction()
            .execute((tx) => createInTx(tx, req, phone, hash, idempotencyKey, core.clock.now()));
        } catch (err) {
          if (err instanceof SlotRefusal) {
            const nextSlots = await nextSlotsOf(err.domain);
            throw new AppError(err.code, err.detail, { ...err.extra, nextSlots });
          }
          const e = err as { code?: string; constraint?: string };
          // Committed concurrently by another request for the same phone and domain.
          if (e.code === '23505' && e.constraint === 'callbacks_active_phone_domain')
            throw duplicateRequest();
          // The drawn reference exists already (about 1 in 10^9 per booking): draw again.
          if (e.code === '23505' && e.constraint === 'callbacks_reference_key' && attempt < 5) continue;
          throw err;
        }
        if ('replay' in outcome) {
          return {
            status: outcome.replay.status,
            body: outcome.replay.body as CreatedCallback,
            replayed: true,
          };
        }
        await outbox.sendNow([outcome.outbox]);
        return { status: 201, body: outcome.created, replayed: false };
      }
    },
  };
}
