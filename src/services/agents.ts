import { DateTime } from 'luxon';
import { AppError } from '../http/errors.js';
import {
  findActiveAgentByTokenHash,
  findAgent,
  insertAgent,
  listAgents,
  setAgentStatus,
  updateAgent,
  type AgentRecord,
} from '../repositories/agents.js';
import { isoParis, type Core } from './core.js';
import { releaseDesk } from '../repositories/dispatch.js';
import { recordEvents } from '../repositories/callback-events.js';
import { newToken, sha256 } from './tokens.js';
import { isUuid, newId } from '../db/ids.js';
import type { Db } from '../db/schema.js';
import { retryingConflicts } from '../db/conflicts.js';
import { windowsOverCapacityNow, tally, type WindowOverCapacityView } from './capacity-report.js';

export interface AgentView {
  id: string;
  displayName: string;
  domains: string[];
  active: boolean;
  status: AgentRecord['status'];
  availableSince: string | null;
}

export function agentView(a: AgentRecord): AgentView {
  return {
    id: a.id,
    displayName: a.displayName,
    domains: a.domains,
    active: a.active,
    status: a.status,
    availableSince: a.availableSince ? isoParis(DateTime.fromJSDate(a.availableSince)) : null,
  };
}

const notFound = () => new AppError('NOT_FOUND', 'Aucun informateur ne porte cet identifiant.');
const unique = (domains: string[]) => [...new Set(domains)].sort();

/**
 * The callback an informateur holds, back to the queue at once (with its due time, so it keeps
 * its place in line) and recorded in its history: for an informateur deactivated, or gone
 * offline, rather than leaving the citizen waiting until the assignment lease runs out.
 */
async function handBack(
  tx: Db,
  agentId: string,
  actor: string,
  reason: 'agent_deactivated' | 'agent_offline',
  at: Date,
): Promise<{ id: string; domain: string }[]> {
  const released = await releaseDesk(tx, agentId, at);
  await recordEvents(
    tx,
    released.map((x) => ({
      callbackId: x.id,
      type: 'unassigned',
      fromStatus: 'assigned',
      toStatus: 'queued',
      actor,
      at,
      data: { reason },
    })),
  );
  return released;
}

/** Informateurs: created by ops with their domains; each holds a bearer token shown once. */
export function createAgentService(core: Core, onAvailable: (domains: string[]) => Promise<void>) {
  const now = () => core.clock.now().toJSDate();

  /**
   * Offline, and the callback held handed back, in one transaction. Offline first, so no
   * dispatch hands them another callback meanwhile. That locks the agent row, then the
   * callback: an outcome locks them the other way round, so the two at the same instant can
   * deadlock; the loser rolls back whole and runs again.
   */
  const goOffline = (id: string, at: Date) =>
    retryingConflicts(() =>
      core.db.transaction().execute(async (tx) => {
        const agent = await setAgentStatus(tx, id, 'offline', at);
        const released = agent ? await handBack(tx, id, `agent:${id}`, 'agent_offline', at) : [];
        return { agent, released };
      }),
    );
  const overCapacity = () => windowsOverCapacityNow(core);
  return {
    overCapacity,
    async create(displayName: string, domains: string[]): Promise<AgentView & { token: string }> {
      const token = newToken();
      const at = now();
      const a = await insertAgent(core.db, {
        id: newId(at.getTime()),
        displayName: displayName.trim(),
        domains: unique(domains),
        tokenHash: sha256(token),
        now: at,
      });
      return { ...agentView(a), token };
    },
    list: async () => (await listAgents(core.db)).map(agentView),
    async update(
      id: string,
      patch: { displayName?: string; domains?: string[]; active?: boolean },
    ): Promise<AgentView & { windowsOverCapacity?: WindowOverCapacityView[] }> {
      if (!isUuid(id)) throw notFound();
      // A deactivation hands the desk back to the queue now rather than when the lease runs
      // out, in the same transaction (as going offline: deactivated first, so no dispatch gives
      // them another callback meanwhile; retried if it loses a deadlock to an outcome). In two,
      // a 503 on the second left the informateur deactivated with the callback still on the desk.
      const { a, released } = await retryingConflicts(() =>
        core.db.transaction().execute(async (tx) => {
          const at = now();
          const a = await updateAgent(
            tx,
            id,
            {
              ...patch,
              ...(patch.domains ? { domains: unique(patch.domains) } : {}),
              ...(patch.displayName ? { displayName: patch.displayName.trim() } : {}),
            },
            at,
          );
          const released =
            a && patch.active === false ? await handBack(tx, id, 'ops', 'agent_deactivated', at) : [];
          return { a, released };
        }),
      );
      if (!a) throw notFound();
      if (released.length > 0) await onAvailable(released.map((r) => r.domain));
      if (patch.active !== false && patch.domains === undefined) return agentView(a);
      // Fewer places: bookings already made stay (they were promised a call), so ops are told
      // which windows now hold more than the informateurs left can call, to staff them or move
      // them. Read after the commit: what is over capacity now, whatever change made it so.
      // The change is saved: a failure to read the report leaves it out rather than answer 503.
      const over = await overCapacity().catch((err: Error) => {
        core.log.warn({ err: { message: err.message } }, 'could not check window capacity');
        return undefined;
      });
      if (over === undefined) return agentView(a);
      if (over.length > 0)
        core.log.warn({ agent: id, ...tally(over) }, 'windows over capacity after an informateur change');
      return { ...agentView(a), windowsOverCapacity: over };
    },
    async rotateToken(id: string): Promise<AgentView & { token: string }> {
      if (!isUuid(id) || !(await findAgent(core.db, id))) throw notFound();
      const token = newToken();
      const a = await updateAgent(core.db, id, { tokenHash: sha256(token) }, now());
      if (!a) throw notFound();
      return { ...agentView(a), token };
    },
    /** The agent behind a bearer token, or null (inactive agents are refused). */
    authenticate: (token: string) => findActiveAgentByTokenHash(core.db, sha256(token)),
    async setStatus(id: string, status: AgentRecord['status']): Promise<AgentView> {
      const at = now();
      const { agent, released } =
        status === 'offline'
          ? await goOffline(id, at)
          : { agent: await setAgentStatus(core.db, id, status, at), released: [] };
      if (!agent) throw new AppError('FORBIDDEN', "Ce compte d'informateur n'est plus actif.");
      if (status === 'available') await onAvailable(agent.domains);
      if (released.length > 0) await onAvailable(released.map((r) => r.domain));
      return agentView(agent);
    },
  };
}

export type AgentService = ReturnType<typeof createAgentService>;
