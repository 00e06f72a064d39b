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
import { createDispatchMetrics } from './metrics.js';
import { createOpsViewService } from './ops-view.js';
import { createRetentionService } from './retention.js';
import { createPostgresRateLimiter, type RateLimiter } from './rate-limiter.js';

export interface ServiceOptions {
  /** Shared limiter (Redis) when configured; PostgreSQL otherwise. */
  limiter?: RateLimiter;
}

export function createServices(core: Core, opts: ServiceOptions = {}) {
  const limiter = opts.limiter ?? createPostgresRateLimiter(core.db, core.clock);
  const calendar = createCalendarService(core);
  const outbox = createOutboxRelay(core, core.queue);
  const due = createDueService(core);
  const metrics = createDispatchMetrics();
  const dispatch = createDispatchService(core, calendar, outbox, metrics);
  const reconciler = createReconciler(core, outbox, due, dispatch);
  const opsView = createOpsViewService(core, metrics);
  const agents = createAgentService(core, dispatch.signalDispatch);
  const intake = createIntakeService(core, calendar, outbox, limiter);
  const callbackAccess = createCallbackAccessService(core);
  const closures = createClosureService(core, calendar, outbox);
  return {
    agents,
    closures,
    dispatch,
    opsView,
    retention: createRetentionService(core),
    calendar,
    outbox,
    reconciler,
    intake,
    callbackAccess,
    limiter,
    callbacks: { markDue: due.markDue },
  };
}

export type Services = ReturnType<typeof createServices>;
