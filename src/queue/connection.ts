import { Queue as RedisQueue, Worker as RedisWorker, createPostgresBackend, withBackend } from 'bullmq';
import type { Job, Processor, WorkerOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { repeatLimitedWarn } from '../logger.js';

/**
 * The queue backend seen by the rest of the code: BullMQ on Redis (REDIS_URL) or on its
 * PostgreSQL backend in Rappel's own database. Nothing outside this file knows which.
 */
export interface QueueBackend {
  readonly kind: 'redis' | 'postgres';
  createQueue(name: string): QueueHandle;
  createWorker(name: string, processor: Processor, opts: WorkerTuning): WorkerHandle;
  close(): Promise<void>;
}

export interface WorkerTuning {
  concurrency: number;
  lockDuration?: number;
  stalledInterval?: number;
  autorun?: boolean;
}

export interface AddOptions {
  jobId: string;
  delay?: number;
  attempts?: number;
  /**
   * Remove the job once completed instead of keeping it an hour. A kept job makes any later add
   * with its jobId a no-op; a removed one lets that add run the job again.
   */
  removeOnComplete?: boolean;
}

export interface QueueHandle {
  add(name: string, data: Record<string, unknown>, opts: AddOptions): Promise<void>;
  addBulk(jobs: { name: string; data: Record<string, unknown>; opts: AddOptions }[]): Promise<void>;
  getJob(jobId: string): Promise<Job | undefined>;
  counts(): Promise<Record<string, number>>;
  /** Answers quickly whether the backend is reachable. */
  ping(timeoutMs: number): Promise<void>;
  upsertRepeatable(name: string, everyMs: number): Promise<void>;
  /** Whether the repeatable job's scheduler exists (a flushed Redis loses it). */
  hasRepeatable(name: string): Promise<boolean>;
  obliterate(): Promise<void>;
  close(): Promise<void>;
}

export interface WorkerHandle {
  run(): void;
  close(force?: boolean): Promise<void>;
  isRunning(): boolean;
  on(event: 'failed', fn: (job: Job | undefined, err: Error) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
}

const JOB_DEFAULTS = {
  attempts: 8,
  backoff: { type: 'exponential' as const, delay: 1_000 },
  removeOnComplete: { age: 3600, count: 10_000 },
  // Kept a week for diagnosis, and at most 10,000: a job failing for good in a loop (a bug, a
  // dependency gone for days) would otherwise pile up in Redis for the whole week.
  removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
};

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function jobOpts(o: AddOptions) {
  return {
    ...JOB_DEFAULTS,
    jobId: o.jobId,
    delay: Math.max(0, Math.round(o.delay ?? 0)),
    attempts: o.attempts ?? JOB_DEFAULTS.attempts,
    ...(o.removeOnComplete ? { removeOnComplete: true } : {}),
  };
}

type AnyQueue = {
  add(name: string, data: unknown, opts: unknown): Promise<unknown>;
  addBulk(jobs: unknown[]): Promise<unknown>;
  getJob(id: string): Promise<Job | undefined>;
  getJobCounts(...types: string[]): Promise<Record<string, number>>;
  getJobScheduler(id: string): Promise<unknown>;
  upsertJobScheduler(
    id: string,
    repeat: { every: number },
    template: { name: string; data: unknown; opts?: unknown },
  ): Promise<unknown>;
  obliterate(opts: { force: boolean }): Promise<void>;
  close(): Promise<void>;
};

/**
 * Producer calls never wait longer than this. BullMQ's Queue waits for its connection to be
 * ready, forever: with Redis down, an enqueue after a commit (outbox relay, dispatch signal)
 * would hang the request that made it. Failing fast instead defers the job to the outbox and
 * the reconciler; a call that times out but lands later is absorbed by its deterministic jobId.
 */
const PRODUCER_TIMEOUT_MS = 3_000;

function wrapQueue(
  q: AnyQueue,
  ping: (ms: number) => Promise<void>,
  whenReady: (ms: number) => Promise<void> = async () => undefined,
): QueueHandle {
  const guarded = async <T>(what: string, op: () => Promise<T>, ms = PRODUCER_TIMEOUT_MS): Promise<T> => {
    await whenReady(ms);
    return withTimeout(op(), ms, what);
  };
  return {
    add: async (name, data, opts) => {
      await guarded('queue add', () => q.add(name, data, jobOpts(opts)));
    },
    addBulk: async (jobs) => {
      await guarded(
        'queue addBulk',
        () => q.addBulk(jobs.map((j) => ({ name: j.name, data: j.data, opts: jobOpts(j.opts) }))),
        PRODUCER_TIMEOUT_MS + 20 * jobs.length,
      );
    },
    getJob: (id) => guarded('queue getJob', () => q.getJob(id)),
    counts: () =>
      guarded('queue counts', () =>
        q.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'),
      ),
    ping,
    upsertRepeatable: async (name, everyMs) => {
      await guarded('queue upsertJobScheduler', () =>
        q.upsertJobScheduler(
          name,
          { every: everyMs },
          { name, data: {}, opts: { removeOnComplete: true, removeOnFail: 100 } },
        ),
      );
    },
    hasRepeatable: async (name) =>
      (await guarded('queue getJobScheduler', () => q.getJobScheduler(name))) !== undefined,
    obliterate: () => q.obliterate({ force: true }),
    close: () => q.close(),
  };
}

export function createRedisBackend(url: string, prefix: string, log: Logger): QueueBackend {
  const base: RedisOptions = { connectTimeout: 2_000, lazyConnect: false };
  // Producers fail fast while Redis is down (the API answers 503); workers wait and resume.
  const producer = new Redis(url, { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const workerConn = new Redis(url, { ...base, maxRetriesPerRequest: null });
  let lastError = '';
  for (const c of [producer, workerConn]) {
    c.on('error', (err: Error) => {
      if (err.message !== lastError) log.warn({ err: { message: err.message } }, 'redis connection error');
      lastError = err.message;
    });
    c.on('ready', () => {
      lastError = '';
    });
  }
  const queues: AnyQueue[] = [];
  // Connecting (at start): wait a little; down (reconnecting, closed): fail at once. One
  // listener however many requests wait.
  let nextReady: Promise<unknown> | null = null;
  const whenReady = async (ms: number) => {
    if (producer.status === 'connecting' || producer.status === 'connect') {
      nextReady ??= new Promise((resolve) => producer.once('ready', resolve)).finally(() => {
        nextReady = null;
      });
      await withTimeout(nextReady, ms, 'redis');
    }
    if (producer.status !== 'ready') throw new Error(`redis is ${producer.status}`);
  };
  const ping = async (ms: number) => {
    await whenReady(ms);
    await withTimeout(producer.ping(), ms, 'redis');
  };
  return {
    kind: 'redis',
    createQueue(name) {
      const q = new RedisQueue(name, { connection: producer, prefix }) as unknown as AnyQueue;
      (q as unknown as RedisQueue).on('error', repeatLimitedWarn(log, 'queue error'));
      queues.push(q);
      return wrapQueue(q, ping, whenReady);
    },
    createWorker(name, processor, opts) {
      const w = new RedisWorker(name, processor, {
        connection: workerConn,
        prefix,
        concurrency: opts.concurrency,
        autorun: opts.autorun ?? false,
        ...(opts.lockDuration ? { lockDuration: opts.lockDuration } : {}),
        ...(opts.stalledInterval ? { stalledInterval: opts.stalledInterval } : {}),
      } satisfies WorkerOptions);
      return wrapWorker(w);
    },
    async close() {
      await Promise.allSettled(queues.map((q) => q.close()));
      producer.disconnect();
      workerConn.disconnect();
    },
  };
}

function wrapWorker(w: unknown): WorkerHandle {
  const worker = w as RedisWorker;
  return {
    run: () => {
      worker.run().catch(() => undefined);
    },
    close: (force) => worker.close(force),
    isRunning: () => worker.isRunning(),
    on: (event: string, fn: (...args: never[]) => void) => {
      worker.on(event as 'error', fn as (err: Error) => void);
    },
  } as WorkerHandle;
}

export function createPostgresQueueBackend(connectionString: string, log: Logger): QueueBackend {
  const { Queue, Worker } = withBackend(createPostgresBackend);
  // Each Queue/Worker opens its own small pool plus a LISTEN connection: keep them small.
  const connection = { connectionString, max: 3, migrate: true };
  const queues: AnyQueue[] = [];
  return {
    kind: 'postgres',
    createQueue(name) {
      const q = new Queue(name, { connection });
      q.on('error', repeatLimitedWarn(log, 'queue error'));
      const handle = q as unknown as AnyQueue;
      queues.push(handle);
      return wrapQueue(handle, async (ms) => {
        await withTimeout(q.getJobCounts('waiting'), ms, 'postgres queue backend');
      });
    },
    createWorker(name, processor, opts) {
      const w = new Worker(name, processor, {
        connection,
        concurrency: opts.concurrency,
        autorun: opts.autorun ?? false,
        ...(opts.lockDuration ? { lockDuration: opts.lockDuration } : {}),
        ...(opts.stalledInterval ? { stalledInterval: opts.stalledInterval } : {}),
      });
      return wrapWorker(w);
    },
    async close() {
      await Promise.allSettled(queues.map((q) => q.close()));
    },
  };
}
