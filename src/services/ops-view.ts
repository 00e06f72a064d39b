import { DateTime } from 'luxon';
import { isValidDate, PARIS } from '../domain/calendar/index.js';
import { isUuid } from '../db/ids.js';
import { maskPhone } from '../domain/phone.js';
import { AppError, isUnavailableError } from '../http/errors.js';
import { listCallbacks, queueSummary } from '../repositories/queue-view.js';
import { windowsOverCapacityNow } from './capacity-report.js';
import { isoParis, type Core } from './core.js';
import type { DispatchMetrics } from './metrics.js';

const iso = (d: Date) => isoParis(DateTime.fromJSDate(d));

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  // A cursor this service wrote holds a row's id and creation time: any other is refused here
  // rather than by PostgreSQL (a 500), as is a time out of the years a callback can be created in.
  const year = createdAt.getUTCFullYear();
  if (!id || !isUuid(id) || Number.isNaN(year) || year < 2000 || year > 2200) {
    throw new AppError('VALIDATION_ERROR', 'Curseur de pagination non valide.');
  }
  return { createdAt, id };
}

function dayStart(date: string, field: string): Date {
  if (!isValidDate(date))
    throw new AppError('VALIDATION_ERROR', `« ${field} » : la date « ${date} » n'existe pas.`);
  return DateTime.fromISO(date, { zone: PARIS }).startOf('day').toJSDate();
}

/** What ops see: the queue per domain, the callbacks list, and the metrics. */
export function createOpsViewService(core: Core, metrics: DispatchMetrics) {
  return {
    async queue() {
      const [rows, over] = await Promise.all([queueSummary(core.db), windowsOverCapacityNow(core)]);
      return {
        windowsOverCapacity: over,
        domains: rows.map((r) => ({
          domain: r.domain,
          scheduled: r.scheduled,
          queued: r.queued,
          assigned: r.assigned,
          oldestQueuedAt: r.oldestQueuedAt ? iso(r.oldestQueuedAt) : null,
          availableInformateurs: r.availableInformateurs,
          onCallInformateurs: r.onCallInformateurs,
        })),
      };
    },

    /** `from`/`to` are Paris dates bounding the window start (to inclusive). */
    async list(q: {
      status?: string;
      domain?: string;
      from?: string;
      to?: string;
      cursor?: string;
      limit?: number;
    }) {
      const limit = q.limit ?? 50;
      // Dates swapped by hand gave an empty page, read as "no callbacks".
      if (q.from && q.to && isValidDate(q.from) && isValidDate(q.to) && q.to < q.from)
        throw new AppError('VALIDATION_ERROR', `« to » (${q.to}) est avant « from » (${q.from}).`);
      const rows = await listCallbacks(core.db, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.domain ? { domain: q.domain } : {}),
        ...(q.from ? { from: dayStart(q.from, 'from') } : {}),
        ...(q.to
          ? { to: DateTime.fromJSDate(dayStart(q.to, 'to')).setZone(PARIS).plus({ days: 1 }).toJSDate() }
          : {}),
        ...(q.cursor ? { cursor: decodeCursor(q.cursor) } : {}),
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((c) => ({
          reference: c.reference,
          status: c.status,
          domain: c.domain,
          mode: c.mode,
          window: { start: iso(c.windowStart), end: iso(c.windowEnd) },
          attempts: c.attempts,
          phone: c.phone ? maskPhone(c.phone) : '••',
          createdAt: iso(c.createdAt),
        })),
        nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null,
      };
    },

    /**
     * Prometheus text. With PostgreSQL unreachable it still answers, with the process's own
     * metrics and `rappel_database_up 0` instead of the queue's gauges: a scrape that failed
     * whenever the database did would hide what happened during the outage.
     */
    async metrics(): Promise<string> {
      let rows: Awaited<ReturnType<typeof queueSummary>> = [];
      let databaseUp = 1;
      try {
        rows = await queueSummary(core.db);
      } catch (err) {
        if (!isUnavailableError(err)) throw err;
        databaseUp = 0;
      }
      const now = core.clock.now().toMillis();
      const g = (name: string, help: string, value: (r: (typeof rows)[number]) => number) =>
        [
          `# HELP ${name} ${help}`,
          `# TYPE ${name} gauge`,
          ...rows.map((r) => `${name}{domain="${r.domain}"} ${value(r)}`),
        ].join('\n');
      return (
        [
          [
            '# HELP rappel_database_up Whether PostgreSQL answered this scrape (the gauges by domain need it).',
            '# TYPE rappel_database_up gauge',
            `rappel_database_up ${databaseUp}`,
          ].join('\n'),
          g('rappel_callbacks_queued', 'Callbacks waiting for an informateur.', (r) => r.queued),
          g(
            'rappel_callbacks_scheduled',
            'Callbacks booked for a later window or retry.',
            (r) => r.scheduled,
          ),
          g('rappel_callbacks_assigned', 'Callbacks on a desk.', (r) => r.assigned),
          g('rappel_oldest_queued_wait_seconds', 'How long the oldest queued callback has been due.', (r) =>
            r.oldestQueuedAt ? Math.max(0, Math.round((now - r.oldestQueuedAt.getTime()) / 1000)) : 0,
          ),
          g(
            'rappel_informateurs_available',
            'Informateurs in status available, on a call or not (one of several domains counts in each).',
            (r) => r.availableInformateurs,
          ),
          g(
            'rappel_informateurs_on_call',
            'Informateurs with a callback on their desk (one of several domains counts in each).',
            (r) => r.onCallInformateurs,
          ),
        ].join('\n') +
        '\n' +
        metrics.render()
      );
    },
  };
}
