import type { JobHandler } from './registry.js';

export const reconcile: JobHandler<'reconcile'> = async (_payload, { services, log }) => {
  const report = await services.reconciler.sweep();
  if (report.relayed > 0 || report.requeued > 0) log.info(report, 'reconcile sweep');
};
