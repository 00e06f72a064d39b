/** Every job name and its payload: ids only, never personal data. */
export interface JobPayloads {
  /** A scheduled callback's due time has come: move it to the queue (compare-and-set). */
  'callback-due': { callbackId: string; dueAt: string };
  /**
   * A window of a domain starts: move its slot callbacks (and any other of the domain's that are
   * due) to the queue. One job per window, however many bookings it holds.
   */
  'window-due': { domain: string; dueAt: string };
  /** Offer the head of a domain's queue to its idle informateurs. */
  dispatch: { domain: string };
  /** Relay the outbox and repair what a lost or flushed queue forgot. */
  reconcile: Record<string, never>;
  /** Anonymise callbacks that ended more than RETENTION_DAYS ago. */
  retention: Record<string, never>;
}

export type JobName = keyof JobPayloads;
export const JOB_NAMES: readonly JobName[] = [
  'callback-due',
  'window-due',
  'dispatch',
  'reconcile',
  'retention',
];

/** BullMQ job ids may not contain ':' ; these are deterministic so a re-sent job is de-duplicated. */
export function callbackDueJobId(callbackId: string, dueAt: Date): string {
  return `due-${callbackId}-${dueAt.getTime()}`;
}

/** The outbox row of a callback's due job (its job id de-duplicates a row sent twice). */
export function callbackDueJob(callbackId: string, dueAt: Date) {
  return {
    jobName: 'callback-due',
    jobId: callbackDueJobId(callbackId, dueAt),
    payload: { callbackId, dueAt: dueAt.toISOString() } satisfies JobPayloads['callback-due'],
    runAt: dueAt,
  };
}

/**
 * The outbox row of a slot booking: its window's due job, shared by every booking of the window
 * (same job id). A delayed job per booking woke the worker at each booking (BullMQ moves its
 * marker on every delayed add), for a timer most bookings of the window had already set.
 */
export function windowDueJob(domain: string, windowStart: Date) {
  return {
    jobName: 'window-due',
    jobId: `window-due-${domain}-${windowStart.getTime()}`,
    payload: { domain, dueAt: windowStart.toISOString() } satisfies JobPayloads['window-due'],
    runAt: windowStart,
  };
}

export const MAIN_QUEUE = 'jobs';
export const RECONCILE_EVERY_MS = 30_000;
export const RETENTION_EVERY_MS = 15 * 60_000;
