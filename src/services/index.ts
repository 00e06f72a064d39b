import type { Core } from './core.js';
import { createCalendarService } from './calendar.js';
import { createOutboxRelay } from './outbox-relay.js';
import { createDueService } from './callbacks-due.js';
import { createReconciler } from './reconciler.js';
import { createIntakeService } from './intake.js';
import { createCallbackAccessService } from './callback-access.js';
import { createAgentService } from './agents.js';
import { createClosureService } from './closures.js';
import { createDispatchService } from './dispatch.js';
import { createHousekeeping } from './housekeeping.js';
import { createDispatchMetrics } from './metrics.js';
import { createOpsViewService } from './ops-view.js';
import { createRetentionService } from './retention.js';
import { createPostgresRateLimiter, type RateLimiter } from './rate-limiter.js';
import type { SlotCache } from './slot-cache.js';
import { createSlotAnnouncer } from './slot-announcer.js';

export interface ServiceOptions {
  /** Shared limiter (Redis) when configured; PostgreSQL otherwise. */
  limiter?: RateLimiter;
  /** The API process's slot listings (runtime.ts); none in workers or when SLOTS_CACHE_MS=0. */
  slotCache?: SlotCache;
  /**
   * The secret the per-phone limit's buckets are keyed with (runtime.ts: the ops token, which
   * every process of a deployment shares), so that a bucket cannot be turned back into its number.
   */
  bucketSecret?: string;
}

/**
 * `service` whose `methods` empty the slot cache once they have settled (committed or not).
 * PostgreSQL's notification of the same change reaches this process a few milliseconds later;
 * dropping the lists here as well lets the caller's next listing show its own change at once.
 */
function droppingSlots<T extends object>(
  service: T,
  methods: readonly (keyof T)[],
  cache: SlotCache | undefined,
): T {
  if (cache === undefined) return service;
  const wrapped: T = { ...service };
  for (const name of methods) {
    const method = service[name];
    if (typeof method !== 'function') continue;
    wrapped[name] = (async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>).apply(service, args);
      } finally {
        cache.invalidateAll();
      }
    }) as T[keyof T];
  }
  return wrapped;
}

export function createServices(core: Core, opts: ServiceOptions = {}) {
  const limiter = opts.limiter ?? createPostgresRateLimiter(core.db, core.clock, core.log);
  const slotCache = opts.slotCache;
  const calendar = createCalendarService(core, slotCache);
  const outbox = createOutboxRelay(core, core.queue);
  const due = createDueService(core);
  const metrics = createDispatchMetrics();
  const dispatch = createDispatchService(core, calendar, outbox, metrics);
  const housekeeping = createHousekeeping(core, calendar, dispatch.signalDispatch);
  const reconciler = createReconciler(core, outbox, due, dispatch, housekeeping);
  const opsView = createOpsViewService(core, metrics);
  const agents = createAgentService(core, dispatch.signalDispatch);
  const slotAnnouncer = createSlotAnnouncer(core.db, core.log);
  const intake = createIntakeService(core, calendar, outbox, limiter, slotAnnouncer, opts.bucketSecret);
  const callbackAccess = createCallbackAccessService(core);
  const closures = createClosureService(core, calendar, outbox);
  // The writes of this process that change what GET /v1/slots lists (see droppingSlots).
  return {
    agents: droppingSlots(agents, ['create', 'update'], slotCache),
    closures: droppingSlots(closures, ['create', 'remove'], slotCache),
    dispatch, // an outcome changes nothing GET /v1/slots lists (outcome.ts)
    opsView,
    retention: createRetentionService(core),
    calendar,
    outbox,
    slotAnnouncer,
    reconciler,
    intake: droppingSlots(intake, ['create'], slotCache),
    callbackAccess: droppingSlots(callbackAccess, ['cancel'], slotCache),
    limiter,
    callbacks: { markDue: due.markDue, markWindowDue: due.markWindowDue },
  };
}

export type Services = ReturnType<typeof createServices>;
