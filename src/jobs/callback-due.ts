import type { JobHandler } from './registry.js';

export const callbackDue: JobHandler<'callback-due'> = async (payload, { services }) => {
  await services.callbacks.markDue(payload.callbackId);
};
