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
import { newId } from '../db/ids.js';

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const notFound = () => new AppError('NOT_FOUND', 'Aucun informateur ne porte cet identifiant.');
const unique = (domains: string[]) => [...new Set(domains)].sort();

/** Informateurs: created by ops with their domains; each holds a bearer token shown once. */
export function createAgentService(core: Core, onAvailable: (domains: string[]) => Promise<void>) {
  const now = () => core.clock.now().toJSDate();
  return {
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
    ): Promise<AgentView> {
      if (!UUID.test(id)) throw notFound();
      const a = await updateAgent(
        core.db,
        id,
        {
          ...patch,
          ...(patch.domains ? { domains: unique(patch.domains) } : {}),
          ...(patch.displayName ? { displayName: patch.displayName.trim() } : {}),
        },
        now(),
      );
      if (!a) throw notFound();
      if (patch.active === false) {
        // Deactivated first, so no dispatch can give them another callback meanwhile.
        // Their desk goes back to the queue now rather than when the lease runs out.
        const released = await core.db.transaction().execute(async (tx) => {
          const now = core.clock.now().toJSDate();
          const r = await releaseDesk(tx, id, now);
          await recordEvents(
            tx,
            r.map((x) => ({
              callbackId: x.id,
              type: 'unassigned',
              fromStatus: 'assigned',
              toStatus: 'queued',
              actor: 'ops',
              at: now,
              data: { reason: 'agent_deactivated' },
            })),
          );
          return r;
        });
        if (released.length > 0) await onAvailable(released.map((r) => r.domain));
      }
      return agentView(a);
    },
    async rotateToken(id: string): Promise<AgentView & { token: string }> {
      if (!UUID.test(id) || !(await findAgent(core.db, id))) throw notFound();
      const token = newToken();
      const a = await updateAgent(core.db, id, { tokenHash: sha256(token) }, now());
      if (!a) throw notFound();
      return { ...agentView(a), token };
    },
    /** The agent behind a bearer token, or null (inactive agents are refused). */
    authenticate: (token: string) => findActiveAgentByTokenHash(core.db, sha256(token)),
    async setStatus(id: string, status: AgentRecord['status']): Promise<AgentView> {
      const a = await setAgentStatus(core.db, id, status, now());
      if (!a) throw new AppError('FORBIDDEN', "Ce compte d'informateur n'est plus actif.");
      if (status === 'available') await onAvailable(a.domains);
      return agentView(a);
    },
  };
}

export type AgentService = ReturnType<typeof createAgentService>;
