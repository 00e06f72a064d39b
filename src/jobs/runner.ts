import type { Job } from 'bullmq';
import type { Runtime } from '../runtime.js';
import {
  JOB_NAMES,
  RECONCILE_EVERY_MS,
  RETENTION_EVERY_MS,
  MAIN_QUEUE,
  type JobName,
} from '../queue/jobs.js';
import type { WorkerHandle } from '../queue/connection.js';
import type { JobHandlers } from './registry.js';
import { reconcile } from './reconcile.js';
import { callbackDue } from './callback-due.js';
import { dispatch } from './dispatch.js';
import { retention } from './retention.js';

const HANDLERS: JobHandlers = {
  'callback-due': callbackDue,
  dispatch,
  reconcile,
  retention,
};

/** Start-up check: every job name has exactly one handler, and no handler is orphaned. */
export function assertHandlers(handlers: Record<string, unknown>): void {
  const names = new Set<string>(JOB_NAMES);
  for (const n of JOB_NAMES)
    if (typeof handlers[n] !== 'function') throw new Error(`no handler for job ${n}`);
  for (const n of Object.keys(handlers)) if (!names.has(n)) throw new Error(`handler for unknown job ${n}`);
}

export interface Workers {
  close(): Promise<void>;
}

/** Runs the job worker of this process: thin handlers, one child logger per job. */
export async function startWorkers(rt: Runtime, opts: { concurrency?: number } = {}): Promise<Workers> {
  assertHandlers(HANDLERS);
  const queueName = rt.config.redisUrl ? MAIN_QUEUE : `${rt.config.queuePrefix}-${MAIN_QUEUE}`;
  const worker: WorkerHandle = rt.queueBackend.createWorker(
    queueName,
    async (job: Job) => {
      const name = job.name as JobName;
      const handler = HANDLERS[name] as ((p: unknown, c: unknown) => Promise<void>) | undefined;
      const log = rt.log.child({ job: name, jobId: job.id, attempt: job.attemptsMade + 1 });
      if (!handler) {
        log.error('unknown job name');
        return;
      }
      const started = Date.now();
      await handler(job.data, { log, services: rt.services });
      log.debug({ ms: Date.now() - started }, 'job done');
    },
    { concurrency: opts.concurrency ?? 8, lockDuration: 30_000 },
  );
  worker.on('failed', (job, err) =>
    rt.log.warn({ job: job?.name, jobId: job?.id, err: { message: err.message } }, 'job failed'),
  );
  worker.on('error', (err) => rt.log.warn({ err: { message: err.message } }, 'worker error'));

  // A start-up pass repairs at once what a lost queue forgot; then every 30 s.
  await rt.services.reconciler
    .sweep()
    .catch((err: Error) => rt.log.warn({ err: { message: err.message } }, 'start-up reconcile failed'));
  // Re-asserted every minute: a flushed or restarted-empty Redis forgets its job schedulers too.
  const ensureSchedulers = async () => {
    for (const [name, every] of [
      ['reconcile', RECONCILE_EVERY_MS],
      ['retention', RETENTION_EVERY_MS],
    ] as const) {
      await rt.queue
        .upsertRepeatable(name, every)
        .catch((err: Error) =>
          rt.log.warn({ err: { message: err.message }, job: name }, 'could not schedule a repeatable job'),
        );
    }
  };
  await ensureSchedulers();
  const schedulerTimer = setInterval(() => void ensureSchedulers(), 60_000);
  schedulerTimer.unref();
  worker.run();
  rt.log.info({ queue: queueName, backend: rt.queueBackend.kind }, 'worker started');
  return {
    close: async () => {
      clearInterval(schedulerTimer);
      await worker.close();
    },
  };
}
