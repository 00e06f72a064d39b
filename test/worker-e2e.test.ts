import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { BACKENDS, createTestDatabase, startTestApp, type TestContext } from './support/runtime.js';
import { booking, createAgent, setStatus } from './support/api.js';
import { startWorkers, type Workers } from '../src/jobs/runner.js';
import { createOutboxRelay } from '../src/services/outbox-relay.js';
import { windowDueJob } from '../src/queue/jobs.js';

const at = (iso: string) => DateTime.fromISO(iso, { setZone: true });

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(BACKENDS)('real BullMQ workers on the %s backend', (backend) => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let t: TestContext;
  let workers: Workers | undefined;
  beforeEach(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, backend, {
      now: '2026-11-23T08:59:58+01:00',
      env: { MIN_NOTICE_MINUTES: '0', RATE_LIMIT_PER_IP_PER_MINUTE: '0' },
    });
  });
  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await t?.close();
    await db?.drop();
  });

  it('the delayed due job queues the callback at its window start and dispatch puts it on a desk', async () => {
    const agent = await createAgent(t.app, ['travail']);
    await setStatus(t.app, agent.token, 'available');
    workers = await startWorkers(t.rt, { concurrency: 2 });
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: '2026-11-23T09:00:00+01:00' }),
    });
    expect(res.statusCode, res.body).toBe(201);
    const id = res.json().id as string;
    // The job is added right after the answer, with a delay of (window start − clock now) = 2 s
    // of wall time. Booked so close to the start, it is a job of its own, not the window's
    // shared one (which may have run already): named after its outbox row.
    const shared = `window-due-travail-${at('2026-11-23T09:00:00+01:00').toMillis()}`;
    const row = await t.rt.db
      .selectFrom('outbox')
      .select('id')
      .where('job_id', '=', shared)
      .executeTakeFirstOrThrow();
    const job = await waitFor(() => t.rt.queue.getJob(`${shared}-row${row.id}`));
    expect(job?.name).toBe('window-due');
    expect(job?.opts.delay).toBeGreaterThan(1000);
    t.clock.set(at('2026-11-23T09:00:00+01:00'));
    const desk = await waitFor(async () => {
      const r = await t.rt.db
        .selectFrom('callbacks')
        .select(['status', 'assigned_agent_id'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      return r.status === 'assigned' ? r : undefined;
    });
    expect(desk.assigned_agent_id).toBe(agent.id);
    const events = await t.rt.db
      .selectFrom('callback_events')
      .select(['type'])
      .where('callback_id', '=', id)
      .orderBy('id')
      .execute();
    expect(events.map((e) => e.type)).toEqual(['created', 'queued', 'assigned']);
  });

  it("one due job per window: the window's bookings share it, and it queues them all", async () => {
    t.clock.set(at('2026-11-23T08:00:00+01:00'));
    await createAgent(t.app, ['travail', 'logement']);
    await createAgent(t.app, ['travail']); // a place each in the 10:00 travail window
    const ids: string[] = [];
    for (const [domain, phone, slotStart] of [
      ['travail', '06 12 34 56 01', '2026-11-23T10:00:00+01:00'],
      ['travail', '06 12 34 56 02', '2026-11-23T10:00:00+01:00'],
      ['logement', '06 12 34 56 03', '2026-11-23T11:00:00+01:00'],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/callbacks',
        payload: booking({ domain, phone, slotStart }),
      });
      expect(res.statusCode, res.body).toBe(201);
      ids.push(res.json().id as string);
    }
    // Every outbox row relayed (and marked sent), for two jobs.
    const sent = await waitFor(async () => {
      const rows = await t.rt.db.selectFrom('outbox').select(['sent_at']).execute();
      return rows.length === 3 && rows.every((r) => r.sent_at !== null) ? rows : undefined;
    });
    expect(sent).toHaveLength(3);
    const start = at('2026-11-23T10:00:00+01:00').toMillis();
    const travail = await t.rt.queue.getJob(`window-due-travail-${start}`);
    expect(travail?.name).toBe('window-due');
    expect(travail?.data).toEqual({ domain: 'travail', dueAt: '2026-11-23T09:00:00.000Z' });
    const eleven = at('2026-11-23T11:00:00+01:00').toMillis();
    expect((await t.rt.queue.getJob(`window-due-logement-${eleven}`))?.name).toBe('window-due');
    expect((await t.rt.queue.counts()).delayed).toBe(2); // three bookings, two windows

    // At 10:00 the travail job (promoted here instead of waiting the hour) queues both travail
    // bookings; the 11:00 logement one is not due.
    workers = await startWorkers(t.rt, { concurrency: 2 });
    t.clock.set(at('2026-11-23T10:00:00+01:00'));
    await travail!.promote();
    const statusOf = async () => {
      const rows = await t.rt.db.selectFrom('callbacks').select(['id', 'status']).execute();
      const status = new Map(rows.map((r) => [r.id, r.status]));
      return ids.map((id) => status.get(id));
    };
    expect(await waitFor(async () => ((await statusOf())[1] === 'queued' ? statusOf() : undefined))).toEqual([
      'queued',
      'queued',
      'scheduled',
    ]);
    // Removed once done: a booking relayed after it ran (clocks that disagree) adds it again
    // instead of meeting a finished job that would swallow the add.
    await waitFor(async () => ((await t.rt.queue.getJob(`window-due-travail-${start}`)) ? undefined : true));
    // Run again, it changes nothing.
    expect(await t.rt.services.callbacks.markWindowDue('travail', '2026-11-23T09:00:00.000Z')).toEqual([]);
    expect(await statusOf()).toEqual(['queued', 'queued', 'scheduled']);
  });

  it("a process adds a window's shared job once a second: a lost job comes back from a booking relayed after that", async () => {
    t.clock.set(at('2026-11-23T08:00:00+01:00'));
    let monotonic = 0; // the relay's own clock for its memory, moved by hand
    const relay = createOutboxRelay(
      { config: t.rt.config, clock: t.clock, log: t.rt.log, db: t.rt.db, queue: t.rt.queue },
      t.rt.queue,
      () => monotonic,
    );
    const ten = at('2026-11-23T10:00:00+01:00').toJSDate();
    const row = (id: number) => ({ id, ...windowDueJob('travail', ten) });
    const { jobId } = windowDueJob('travail', ten);
    const lose = async () => {
      const job = await t.rt.queue.getJob(jobId);
      expect(job?.name).toBe('window-due');
      await job!.remove(); // as a flushed Redis would lose it
    };
    await relay.sendNow([row(1)]);
    await lose();
    monotonic = 999;
    await relay.sendNow([row(2)]); // within the second: not added again
    expect(await t.rt.queue.getJob(jobId)).toBeUndefined();
    monotonic = 1_000;
    await relay.sendNow([row(3)]); // the second is over: added again
    await lose();
    // A minute or less before the window starts, every booking adds it.
    t.clock.set(at('2026-11-23T09:59:00+01:00'));
    await relay.sendNow([row(4)]);
    await lose();
    await relay.sendNow([row(5)]);
    expect((await t.rt.queue.getJob(jobId))?.name).toBe('window-due');
    await relay.flush();
  });

  it('a due job that fires twice or late changes nothing more', async () => {
    await createAgent(t.app, ['travail']);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/callbacks',
      payload: booking({ slotStart: '2026-11-23T09:00:00+01:00' }),
    });
    const id = res.json().id as string;
    t.clock.set(at('2026-11-23T09:05:00+01:00'));
    expect(await t.rt.services.callbacks.markDue(id)).toEqual(['travail']);
    // Run again (as after a worker that died before its signal): its domain is still signalled,
    // the callback waiting in the queue.
    expect(await t.rt.services.callbacks.markDue(id)).toEqual(['travail']);
    const events = await t.rt.db
      .selectFrom('callback_events')
      .select(['type'])
      .where('callback_id', '=', id)
      .execute();
    expect(events.map((e) => e.type)).toEqual(['created', 'queued']);
    // Once it has left the queue, nothing to signal.
    await t.rt.db.updateTable('callbacks').set({ status: 'cancelled' }).where('id', '=', id).execute();
    expect(await t.rt.services.callbacks.markDue(id)).toEqual([]);
  });
});
