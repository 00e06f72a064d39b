import type { JobHandler } from './registry.js';

export const callbackDue: JobHandler<'callback-due'> = async (payload, { services }) => {
  const domains = await services.callbacks.markDue(payload.callbackId, payload.dueAt);
  await services.dispatch.signalDispatch(domains);
};
