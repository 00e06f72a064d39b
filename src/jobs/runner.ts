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
import { repeatLimitedWarn, textWithoutPhone } from '../logger.js';
import { callbackDue } from './callback-due.js';
import { windowDue } from './window-due.js';
import { dispatch } from './dispatch.js';
import { retention } from './retention.js';
import { tally } from '../services/capacity-report.js';

/** How soon a worker notices that its queue lost the job schedulers. */
const SCHEDULER_CHECK_MS = 5_000;
/** How long the queue has to answer before the worker sweeps without it. */
const QUEUE_PING_MS = 2_000;

const HANDLERS: JobHandlers = {
  'callback-due': callbackDue,
  'window-due': windowDue,
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
        // A job of a newer version, met by an older worker during a rolling deploy: failed, so
        // BullMQ tries it again (8 attempts over about four minutes) for a worker that knows it,
        // instead of completing it unrun (a completed window job would swallow its window).
        log.error('unknown job name');
        throw new Error(`unknown job name ${name}`);
      }
      const started = Date.now();
      await handler(job.data, { log, services: rt.services });
      log.debug({ ms: Date.now() - started }, 'job done');
    },
    // A job whose worker died (kill -9, lost host) is stalled once its lock expires, and runs
    // again: JOB_LOCK_MS (default 30 s, BullMQ's own) bounds that delay.
    {
      concurrency: opts.concurrency ?? 8,
      lockDuration: rt.config.jobLockMs,
      stalledInterval: rt.config.jobLockMs,
    },
  );
  worker.on('failed', (job, err) =>
    rt.log.warn(
      { job: job?.name, jobId: job?.id, err: { message: textWithoutPhone(err.message) } },
      'job failed',
    ),
  );
  worker.on('error', repeatLimitedWarn(rt.log, 'worker error'));

  // A start-up pass repairs at once what a lost queue forgot; then every 30 s.
  await rt.services.reconciler
    .sweep()
    .catch((err: Error) => rt.log.warn({ err: { message: err.message } }, 'start-up reconcile failed'));
  // Windows left over capacity by a lower CALLBACKS_PER_AGENT_PER_SLOT, or informateurs gone,
  // are kept (they were promised): said at start so that ops hear of it.
  await rt.services.agents
    .overCapacity()
    .then((over) => {
      if (over.length > 0)
        rt.log.warn(
          tally(over),
          'windows to come hold more bookings than the active informateurs give places (GET /v1/queue lists them)',
        );
    })
    .catch((err: Error) => rt.log.warn({ err: { message: err.message } }, 'could not check window capacity'));
  // A flushed (or restarted-empty) Redis forgets the job schedulers, and with them the 30 s
  // sweep that would repair everything else it forgot. Checked every few seconds: when they are
  // gone, they are re-created and a sweep runs at once.
  const schedules = [
    ['reconcile', RECONCILE_EVERY_MS],
    ['retention', RETENTION_EVERY_MS],
  ] as const;
  for (const [name, every] of schedules) {
    await rt.queue
      .upsertRepeatable(name, every)
      .catch((err: Error) =>
        rt.log.warn({ err: { message: err.message }, job: name }, 'could not schedule a repeatable job'),
      );
  }
  let checking: Promise<void> | null = null;
  const schedulerCheckFailed = repeatLimitedWarn(rt.log, 'could not check the job schedulers');
  const checkSchedulers = async () => {
    let recreated = false;
    for (const [name, every] of schedules) {
      if (await rt.queue.hasRepeatable(name)) continue;
      await rt.queue.upsertRepeatable(name, every);
      recreated = true;
    }
    if (!recreated) return;
    rt.log.warn('job schedulers were missing (queue flushed?): re-created; sweeping now');
    await rt.services.reconciler.sweep();
  };
  const schedulerTimer = setInterval(() => {
    checking ??= checkSchedulers()
      .catch(schedulerCheckFailed)
      .finally(() => {
        checking = null;
      });
  }, SCHEDULER_CHECK_MS);
  schedulerTimer.unref();
  // While the queue is unreachable its jobs, the repeatable sweep among them, do not run: expired
  // leases stayed on their desks, and nothing was carried over or pushed, until it came back (an
  // outside test saw a lease released 72 s late, and the wait has no bound). The sweep, from
  // PostgreSQL, then runs from this timer; once the queue answers, the repeatable job again.
  let sweepingAlone: Promise<void> | null = null;
  const sweepWhileQueueDown = async () => {
    try {
      await rt.queue.ping(QUEUE_PING_MS);
      return;
    } catch {
      // unreachable: sweep below
    }
    const report = await rt.services.reconciler.sweep();
    rt.log.warn(report, 'queue unreachable: reconcile sweep run by the worker itself');
  };
  const fallbackTimer = setInterval(() => {
    sweepingAlone ??= sweepWhileQueueDown()
      .catch((err: Error) => rt.log.warn({ err: { message: err.message } }, 'reconcile sweep failed'))
      .finally(() => {
        sweepingAlone = null;
      });
  }, RECONCILE_EVERY_MS);
  fallbackTimer.unref();
  worker.run();
  rt.log.info({ queue: queueName, backend: rt.queueBackend.kind }, 'worker started');
  return {
    close: async () => {
      clearInterval(schedulerTimer);
      clearInterval(fallbackTimer);
      await checking;
      await sweepingAlone;
      // The queue not answering (down, or frozen), BullMQ's close waited for its job loop, itself
      // waiting for the queue: a worker stopped then spent the whole SHUTDOWN_TIMEOUT_MS and
      // exited 1. No job can be finished without the queue anyway: those under way run again
      // once their lock expires.
      const reachable = await rt.queue.ping(QUEUE_PING_MS).then(
        () => true,
        () => false,
      );
      await worker.close(!reachable);
    },
  };
}
