import type { JobHandler } from './registry.js';

export const windowDue: JobHandler<'window-due'> = async (payload, { services }) => {
  const moved = await services.callbacks.markWindowDue(payload.domain, payload.dueAt);
  // Its domain always: a retry of this job after the move committed moves nothing, and would
  // otherwise leave the push to the next sweep.
  await services.dispatch.signalDispatch([payload.domain, ...moved]);
};
