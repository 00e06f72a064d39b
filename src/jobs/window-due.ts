import type { JobHandler } from './registry.js';

export const windowDue: JobHandler<'window-due'> = async (payload, { services }) => {
  const domains = await services.callbacks.markWindowDue(payload.domain, payload.dueAt);
  await services.dispatch.signalDispatch(domains);
};
