import type { Core } from './core.js';
import { createCalendarService } from './calendar.js';
import { createOutboxRelay } from './outbox-relay.js';
import { createDueService } from './callbacks-due.js';
import { createReconciler } from './reconciler.js';

export function createServices(core: Core) {
  const calendar = createCalendarService(core);
  const outbox = createOutboxRelay(core, core.queue);
  const due = createDueService(core);
  const reconciler = createReconciler(core, outbox, due);
  return { calendar, outbox, reconciler, callbacks: { markDue: due.markDue } };
}

export type Services = ReturnType<typeof createServices>;
