import { newId } from '../db/ids.js';
import { pooledRandomBytes } from '../random.js';
import type { DateTime } from 'luxon';
import { windowCapacity } from '../domain/capacity.js';
import type { DomainCode } from '../domain/domains.js';
import { makeReference } from '../domain/reference.js';
import { AppError } from '../http/errors.js';
import { windowDueJob } from '../queue/jobs.js';
import { hasActiveCallback } from '../repositories/callbacks.js';
import { CALENDAR_LOCK } from '../repositories/closures.js';
import type { StoredResponse } from '../repositories/idempotency.js';
import { bookCallback } from '../repositories/intake.js';
import type { OutboxRow } from '../repositories/outbox.js';
import type { CalendarService } from './calendar.js';
import { isoParis, type Core } from './core.js';
import { sealAnswer, storedKey } from './idempotency-seal.js';
import { decideWindow, SlotRefusal, type Context } from './intake-decision.js';
import { newToken, sha256 } from './tokens.js';

/** One citizen's request, as the schema admits it. */
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

const IDEMPOTENCY_TTL_HOURS = 24;

export const duplicateRequest = () =>
  new AppError(
    'DUPLICATE_REQUEST',
    'Une demande de rappel est déjà en cours pour ce numéro dans ce domaine.',
  );

/** The booking of one decided request: intake.ts runs it, and again when it is stale. */
/** The advisory lock of an Idempotency-Key, taken by rappel_book while it books under the key. */
export const keyLockOf = (idempotencyKey: string): bigint =>
  sha256(`idem:${idempotencyKey}`).readBigInt64BE(0);

export function createBooking(core: Core, calendar: CalendarService) {
  const { config } = core;

  /**
   * Decides on what `ctx` says (intake-decision.ts), then books in one call that
   * re-checks, under its locks, what the decision used (repositories/intake.ts): 'stale' means
   * the closures or the staffing changed in between, and the caller reads and decides again.
   * Slot refusals are thrown as SlotRefusal: intake.ts adds nextSlots to them.
   */
  async function decideAndBook(
    req: CallbackRequest,
    slotStart: DateTime | null,
    phone: { e164: string; region: string },
    hash: Buffer,
    idempotencyKey: string | undefined,
    ctx: Context,
    now: DateTime,
  ): Promise<{ replay: StoredResponse } | { created: CreatedCallback; outbox: OutboxRow } | 'stale'> {
    const slot = req.mode === 'slot';
    const decided = await decideWindow(core, calendar.settings, req.domain, slotStart, ctx.closures, now);
    if ('refusal' in decided) {
      const r = decided.refusal;
      // A refusal is never made on remembered closures or staffing: read them again first.
      if (ctx.remembered) return 'stale';
      // A full line is refused after DUPLICATE_REQUEST (SLOT_FULL itself is rappel_book's).
      // (That active callback may be this key's own first answer: intake.ts replays it.)
      if (r.checkDuplicateFirst && (await hasActiveCallback(core.db, phone.e164, req.domain)))
        throw duplicateRequest();
      throw r;
    }
    const { status, windowStart, windowEnd } = decided;

    const id = newId(now.toMillis());
    const cancelToken = newToken();
    const body: CreatedCallback = {
      id,
      reference: makeReference(pooledRandomBytes),
      status,
      domain: req.domain,
      mode: req.mode,
      window: { start: isoParis(windowStart), end: isoParis(windowEnd) },
      cancelToken,
    };
    const result = await bookCallback(core.db, {
      keyLock: idempotencyKey === undefined ? null : keyLockOf(idempotencyKey),
      // Bookings share the calendar lock; a new closure takes it exclusively, so a booking is
      // either seen by the closure (and moved or reported) or sees the closure.
      calendarLock: slot ? CALENDAR_LOCK : null,
      decidedOn: { date: ctx.date, closuresMd5: ctx.closuresMd5, activeInDomain: ctx.activeInDomain },
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
      event: { type: 'created', actor: 'citizen', data: { mode: req.mode } },
      outbox:
        status === 'scheduled'
          ? windowDueJob(req.domain, windowStart.toJSDate())
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
              key: storedKey(idempotencyKey),
              requestHash: hash,
              status: 201,
              body: sealAnswer(body, idempotencyKey),
              // Hours of elapsed time, as luxon's plus({ hours }) adds them (without its Duration).
              expiresAt: new Date(now.toMillis() + IDEMPOTENCY_TTL_HOURS * 3_600_000),
            },
      now: now.toJSDate(),
    });
    switch (result.outcome) {
      case 'created':
        return { created: body, outbox: result.outbox };
      case 'stored':
        return { replay: result.stored };
      case 'stale':
        return 'stale';
      case 'key_in_use':
        throw new AppError(
          'IDEMPOTENCY_KEY_IN_USE',
          'Une requête avec cette clé d’idempotence est encore en cours.',
          {},
          { 'retry-after': '1' },
        );
      case 'duplicate':
        throw duplicateRequest();
      case 'full':
        throw new SlotRefusal(
          'SLOT_FULL',
          'Ce créneau est complet. Choisissez un autre créneau.',
          {},
          req.domain,
        );
    }
  }

  return decideAndBook;
}
