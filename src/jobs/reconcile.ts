import type { JobHandler } from './registry.js';

export const reconcile: JobHandler<'reconcile'> = async (_payload, { services, log }) => {
  const report = await services.reconciler.sweep();
  if (Object.values(report).some((n) => n > 0)) log.info(report, 'reconcile sweep');
};
