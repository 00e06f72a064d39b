import type { JobHandler } from './registry.js';

export const retention: JobHandler<'retention'> = async (_payload, { services, log }) => {
  const n = await services.retention.run();
  if (n > 0) log.info({ anonymised: n }, 'retention: callbacks anonymised');
};
