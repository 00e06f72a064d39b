import { randomUUID } from 'node:crypto';
import type { DateTime } from 'luxon';
import { openIntervalAt, todayIn, ZONE } from '../domain/calendar/index.js';
import { decideRetry } from '../domain/retry.js';
import { AppError } from '../http/errors.js';
import { findByReference } from '../repositories/callbacks.js';
import { recordEvents } from '../repositories/callback-events.js';
import { queueIfDue } from '../repositories/callbacks-due.js';
import { listClosures } from '../repositories/closures.js';
import { enqueueOutbox } from '../repositories/outbox.js';
import {
  applyOutcome,
  assignHeadToIdlest,
  carryOverQueued,
  claimNext,
  deskOf,
  lockAgent,
  markIdle,
  releaseExpiredLeases,
} from '../repositories/dispatch.js';
import { setAgentStatus } from '../repositories/agents.js';
import { normaliseReference } from '../domain/reference.js';
import { callbackDueJobId } from '../queue/jobs.js';
import type { Core } from './core.js';
import type { CalendarService } from './calendar.js';
import type { OutboxRelay } from './outbox-relay.js';
import type { DispatchMetrics } from './metrics.js';
import { deskView, iso, type DeskCallback } from './desk-view.js';

export type { DeskCallback } from './desk-view.js';

export type Outcome = 'reached' | 'no_answer' | 'wrong_number' | 'redirected';

export function createDispatchService(
  core: Core,
  calendar: CalendarService,
  outbox: OutboxRelay,
  metrics: DispatchMetrics,
) {
  const { config } = core;
  const leaseUntil = (now: DateTime) => now.plus({ minutes: config.assignmentTimeoutMinutes }).toJSDate();

  /** Asks the workers to offer queued callbacks of these domains to idle informateurs. */
  async function signalDispatch(domains: Iterable<string>): Promise<void> {
    const unique = [...new Set(domains)];
    if (unique.length === 0) return;
    try {
      await core.queue.addBulk(
        unique.map((domain) => ({
          name: 'dispatch',
          data: { domain },
          opts: { jobId: `dispatch-${domain}-${randomUUID()}`, attempts: 3 },
        })),
      );
    } catch (err) {
      // Not a loss: pull-next claims directly, and the reconciler dispatches every sweep.
      core.log.warn(
        { err: { message: (err as Error).message } },
        'dispatch signal deferred to the reconciler',
      );
    }
  }

  return {
    signalDispatch,

    /**
     * Pull next: what is on the informateur's desk, or the next queued callback of their
     * domains, claimed atomically. Overdue scheduled callbacks are queued first, so a late or
     * lost timer never delays a call. Pulling makes the informateur available.
     */
    async pullNext(agentId: string): Promise<DeskCallback | null> {
      const result = await core.db.transaction().execute(async (tx) => {
        const agent = await lockAgent(tx, agentId);
        if (!agent) throw new AppError('UNAUTHORIZED', "Ce compte d'informateur n'est plus actif.");
        const now = core.clock.now();
        if (agent.status !== 'available') await setAgentStatus(tx, agentId, 'available', now.toJSDate());
        const desk = await deskOf(tx, agentId);
        if (desk) return { callback: desk, fresh: false };
        const promoted = await queueIfDue(tx, null, now.toJSDate(), 200, agent.domains);
        await recordEvents(
          tx,
          promoted.map((p) => ({
            callbackId: p.id,
            type: 'queued',
            fromStatus: 'scheduled',
            toStatus: 'queued',
            actor: 'system',
            at: now.toJSDate(),
          })),
        );
        const claimed = await claimNext(tx, agentId, agent.domains, now.toJSDate(), leaseUntil(now));
        if (!claimed) return null;
        await recordEvents(tx, [
          {
            callbackId: claimed.id,
            type: 'assigned',
            fromStatus: 'queued',
            toStatus: 'assigned',
            actor: `agent:${agentId}`,
            at: now.toJSDate(),
            data: { via: 'pull' },
          },
        ]);
        metrics.observeDispatch(now.toMillis() - claimed.dueAt.getTime());
        return { callback: claimed, fresh: true };
      });
      return result ? deskView(result.callback) : null;
    },

    /** Push dispatch for one domain, until no idle informateur or nothing queued is left. */
    async dispatchDomain(domain: string): Promise<number> {
      let assigned = 0;
      for (let i = 0; i < 200; i++) {
        const done = await core.db
          .transaction()
          .execute(async (tx) => {
            const now = core.clock.now();
            const a = await assignHeadToIdlest(tx, domain, now.toJSDate(), config.assignmentTimeoutMinutes);
            if (!a) return false;
            await recordEvents(tx, [
              {
                callbackId: a.callbackId,
                type: 'assigned',
                fromStatus: 'queued',
                toStatus: 'assigned',
                actor: `agent:${a.agentId}`,
                at: now.toJSDate(),
                data: { via: 'dispatch' },
              },
            ]);
            metrics.observeDispatch(now.toMillis() - a.dueAt.getTime());
            return true;
          })
          .catch((err: { code?: string; constraint?: string }) => {
            // The informateur pulled a callback between our desk check and our lock: the
            // one-desk index refused the second one. Nothing was written; look again.
            if (err.code === '23505' && err.constraint === 'callbacks_one_per_desk') return 'retry' as const;
            throw err;
          });
        if (done === false) break;
        if (done === 'retry') continue;
        assigned++;
      }
      return assigned;
    },

    /** An outcome reported by the informateur the callback is assigned to. */
    async reportOutcome(
      agentId: string,
      reference: string,
      outcome: Outcome,
      redirectedTo: string | undefined,
      note: string | undefined,
    ): Promise<DeskCallback> {
      if (outcome === 'redirected' && !redirectedTo?.trim()) {
        throw new AppError(
          'VALIDATION_ERROR',
          '« redirectedTo » est obligatoire pour une réorientation : vers quel service, association ou professionnel ?',
        );
      }
      const ref = normaliseReference(reference);
      const result = await core.db.transaction().execute(async (tx) => {
        const c = ref ? await findByReference(tx, ref, { forUpdate: true }) : null;
        if (!c) throw new AppError('NOT_FOUND', 'Aucune demande de rappel ne porte cette référence.');
        if (c.status !== 'assigned')
          throw new AppError('INVALID_TRANSITION', "Ce rappel n'est pas en cours d'appel.", {
            callbackStatus: c.status,
          });
        if (c.assignedAgentId !== agentId)
          throw new AppError('FORBIDDEN', 'Ce rappel est attribué à un autre informateur.');
        const now = core.clock.now();
        let update: { status: 'completed' | 'failed' | 'scheduled'; outcome: string; dueAt: Date | null };
        if (outcome === 'reached' || outcome === 'redirected')
          update = { status: 'completed', outcome, dueAt: null };
        else if (outcome === 'wrong_number') update = { status: 'failed', outcome, dueAt: null };
        else {
          const from = todayIn(now);
          const to = now.plus({ days: 400 }).setZone(ZONE).toISODate()!;
          const decision = decideRetry(
            c.attempts + 1,
            now,
            { maxAttempts: config.maxAttempts, retryDelayMinutes: config.retryDelayMinutes },
            calendar.settings,
            await listClosures(tx, from, to),
          );
          update =
            decision.kind === 'retry'
              ? { status: 'scheduled', outcome, dueAt: decision.at.toJSDate() }
              : { status: 'failed', outcome: 'unreachable', dueAt: null };
        }
        const updated = await applyOutcome(
          tx,
          c.id,
          agentId,
          { ...update, redirectedTo: outcome === 'redirected' ? redirectedTo!.trim() : null },
          now.toJSDate(),
        );
        if (!updated)
          throw new AppError('INVALID_TRANSITION', "Ce rappel vient de changer d'état ; réessayez.");
        await recordEvents(tx, [
          {
            callbackId: c.id,
            type: 'outcome',
            fromStatus: 'assigned',
            toStatus: update.status,
            actor: `agent:${agentId}`,
            at: now.toJSDate(),
            data: {
              outcome,
              attempt: updated.attempts,
              ...(update.outcome === 'unreachable' ? { unreachable: true } : {}),
              ...(outcome === 'redirected' ? { redirectedTo: redirectedTo!.trim() } : {}),
              ...(note?.trim() ? { note: note.trim() } : {}),
              ...(update.dueAt ? { nextAttemptAt: iso(update.dueAt) } : {}),
            },
          },
        ]);
        const outboxIds: number[] = [];
        if (update.dueAt) {
          outboxIds.push(
            await enqueueOutbox(
              tx,
              {
                jobName: 'callback-due',
                jobId: callbackDueJobId(c.id, update.dueAt),
                payload: { callbackId: c.id, dueAt: update.dueAt.toISOString() },
                runAt: update.dueAt,
              },
              now.toJSDate(),
            ),
          );
        }
        await markIdle(tx, agentId, now.toJSDate());
        metrics.countOutcome(c.domain, update.outcome);
        const agent = await lockAgent(tx, agentId);
        return { updated, outboxIds, domains: agent?.domains ?? [c.domain] };
      });
      await outbox.relayNow(result.outboxIds);
      await signalDispatch(result.domains);
      return deskView(result.updated);
    },

    /** Expired leases back to the queue (informateurs paused); queued callbacks carried over at closing. */
    async housekeeping(): Promise<{ leasesReleased: number; carriedOver: number }> {
      const now = core.clock.now();
      const released = await core.db.transaction().execute(async (tx) => {
        const r = await releaseExpiredLeases(tx, now.toJSDate());
        await recordEvents(
          tx,
          r.map((x) => ({
            callbackId: x.id,
            type: 'lease_expired',
            fromStatus: 'assigned',
            toStatus: 'queued',
            actor: 'system',
            at: now.toJSDate(),
            data: { agentId: x.agentId },
          })),
        );
        return r;
      });
      let carried = 0;
      const today = todayIn(now);
      const open = openIntervalAt(now, calendar.settings, await listClosures(core.db, today, today));
      if (!open) {
        carried = await core.db.transaction().execute(async (tx) => {
          const ids = await carryOverQueued(tx, now.toJSDate());
          await recordEvents(
            tx,
            ids.map((id) => ({
              callbackId: id,
              type: 'carried_over',
              fromStatus: 'queued',
              toStatus: 'queued',
              actor: 'system',
              at: now.toJSDate(),
            })),
          );
          return ids.length;
        });
      }
      if (released.length > 0) await signalDispatch(released.map((r) => r.domain));
      return { leasesReleased: released.length, carriedOver: carried };
    },
  };
}

export type DispatchService = ReturnType<typeof createDispatchService>;
