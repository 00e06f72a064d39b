import type { JobHandler } from './registry.js';

export const windowDue: JobHandler<'window-due'> = async (payload, { services }) => {
  const { moved, held } = await services.callbacks.markWindowDue(payload.domain, payload.dueAt);
  // Its domain always: a retry of this job after the move committed moves nothing, and would
  // otherwise leave the push to the next sweep.
  await services.dispatch.signalDispatch([payload.domain, ...moved]);
  // Due callbacks another transaction held: failed, so BullMQ runs it again a second later.
  if (held)
    throw new Error(`window-due ${payload.domain} ${payload.dueAt}: due callbacks held, trying again`);
};
