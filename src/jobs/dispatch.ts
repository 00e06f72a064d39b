import type { JobHandler } from './registry.js';

export const dispatch: JobHandler<'dispatch'> = async (payload, { services }) => {
  await services.dispatch.dispatchDomain(payload.domain);
};
