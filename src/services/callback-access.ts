import { maskPhone } from '../domain/phone.js';
import { citizenMayCancel, TERMINAL_STATUSES } from '../domain/callback-status.js';
import { normaliseReference } from '../domain/reference.js';
import { AppError } from '../http/errors.js';
import { findByReference, setStatus, type CallbackRecord } from '../repositories/callbacks.js';
import { eventsOf, recordEvents } from '../repositories/callback-events.js';
import { releasePlace } from '../repositories/window-load.js';
import { isoParis, type Core } from './core.js';
import { tokenMatches } from './tokens.js';
import { nextAttemptAt } from './desk-view.js';
import { DateTime } from 'luxon';

export interface CitizenView {
  reference: string;
  status: string;
  domain: string;
  mode: string;
  window: { start: string; end: string };
  phone: string;
  /**
   * A retry waiting for its next attempt (scheduled after a no-answer): when; else null. The
   * citizen sees it too: after a missed call the window shown is the one already past.
   */
  nextAttemptAt: string | null;
}

export interface OpsView extends CitizenView {
  id: string;
  attempts: number;
  ficheId: string | null;
  carriedOver: boolean;
  outcome: string | null;
  redirectedTo: string | null;
  createdAt: string;
  updatedAt: string;
  history: {
    type: string;
    from: string | null;
    to: string | null;
    actor: string;
    at: string;
    data: Record<string, unknown>;
  }[];
}

const notFound = () =>
  new AppError('NOT_FOUND', 'Aucune demande de rappel ne correspond à cette référence et à ce code.');

function iso(d: Date): string {
  return isoParis(DateTime.fromJSDate(d));
}

function citizenView(c: CallbackRecord): CitizenView {
  return {
    reference: c.reference,
    status: c.status,
    domain: c.domain,
    mode: c.mode,
    window: { start: iso(c.windowStart), end: iso(c.windowEnd) },
    phone: c.phone ? maskPhone(c.phone) : '••',
    nextAttemptAt: nextAttemptAt(c),
  };
}

/** Status and cancel for citizens (cancel token), and the detailed view for ops. */
export function createCallbackAccessService(core: Core) {
  async function byTokenOrNotFound(
    reference: string,
    token: string | undefined,
    forUpdate = false,
    db = core.db,
  ) {
    const ref = normaliseReference(reference);
    if (!ref) throw notFound();
    const c = await findByReference(db, ref, { forUpdate });
    // Unknown reference and wrong token answer alike: nothing tells which references exist.
    if (!c || !tokenMatches(token, c.cancelTokenHash)) throw notFound();
    return c;
  }

  return {
    async citizenStatus(reference: string, token: string | undefined): Promise<CitizenView> {
      return citizenView(await byTokenOrNotFound(reference, token));
    },

    async opsStatus(reference: string): Promise<OpsView> {
      const ref = normaliseReference(reference);
      const c = ref ? await findByReference(core.db, ref) : null;
      if (!c) throw new AppError('NOT_FOUND', 'Aucune demande de rappel ne porte cette référence.');
      const events = await eventsOf(core.db, c.id);
      return {
        ...citizenView(c),
        id: c.id,
        attempts: c.attempts,
        ficheId: c.ficheId,
        carriedOver: c.carriedOver,
        outcome: c.outcome,
        redirectedTo: c.redirectedTo,
        createdAt: iso(c.createdAt),
        updatedAt: iso(c.updatedAt),
        history: events.map((e) => ({
          type: e.type,
          from: e.from_status,
          to: e.to_status,
          actor: e.actor,
          at: iso(e.at),
          data: e.data,
        })),
      };
    },

    /** Idempotent: cancelling a cancelled callback answers the same; frees the window's place. */
    async cancel(reference: string, token: string): Promise<CitizenView> {
      return core.db.transaction().execute(async (tx) => {
        const c = await byTokenOrNotFound(reference, token, true, tx);
        if (c.status === 'cancelled') return citizenView(c);
        if (!citizenMayCancel(c.status) || TERMINAL_STATUSES.includes(c.status)) {
          throw new AppError(
            'INVALID_TRANSITION',
            "Ce rappel ne peut plus être annulé : l'appel est en cours ou terminé.",
            { callbackStatus: c.status },
          );
        }
        const now = core.clock.now().toJSDate();
        if (!(await setStatus(tx, c.id, c.status, 'cancelled', now, { endedAt: now }))) {
          throw new AppError('INVALID_TRANSITION', "Ce rappel vient de changer d'état ; réessayez.");
        }
        if (c.mode === 'slot' && c.attempts === 0) await releasePlace(tx, c.domain, c.windowStart);
        await recordEvents(tx, [
          {
            callbackId: c.id,
            type: 'cancelled',
            fromStatus: c.status,
            toStatus: 'cancelled',
            actor: 'citizen',
            at: now,
          },
        ]);
        return citizenView({ ...c, status: 'cancelled' });
      });
    },
  };
}
