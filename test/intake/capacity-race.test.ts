import { describe, expect, it } from 'vitest';
import { booking, createAgent } from '../support/api.js';
import { BACKENDS } from '../support/runtime.js';
import { expectProblem, intakeFixture, postCallback, randomPhones, windowTruth } from './support.js';

const f = intakeFixture();
const WINDOW = '2026-11-23T10:00:00+01:00';
const BOOKINGS = 200;

describe.each(BACKENDS)('200 simultaneous bookings of one window on the %s queue backend', (backend) => {
  it('exactly the capacity (3) succeeds, the rest is SLOT_FULL, and the database agrees', async () => {
    const t = await f.start(backend, { env: { CALLBACKS_PER_AGENT_PER_SLOT: '1' } });
    for (let i = 0; i < 3; i += 1) await createAgent(t.app, ['travail']);
    const slots = (await t.app.inject('/v1/slots?domain=travail')).json().slots as {
      start: string;
      remaining: number;
    }[];
    expect(slots.find((s) => s.start === WINDOW)?.remaining).toBe(3);

    // Warm up the code paths (a refusal for a domain nobody covers writes nothing).
    for (let i = 0; i < 10; i += 1) {
      expectProblem(
        await postCallback(
          t.app,
          booking({ domain: 'justice', phone: randomPhones(1)[0], slotStart: WINDOW }),
        ),
        'SLOT_FULL',
      );
    }
    const answers = await Promise.all(
      randomPhones(BOOKINGS).map((phone) => postCallback(t.app, booking({ phone, slotStart: WINDOW }))),
    );
    const byStatus = new Map<number, number>();
    for (const r of answers) byStatus.set(r.statusCode, (byStatus.get(r.statusCode) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ 201: 3, 409: BOOKINGS - 3 });
    for (const r of answers.filter((a) => a.statusCode === 409)) expectProblem(r, 'SLOT_FULL');
    const refs = answers.filter((a) => a.statusCode === 201).map((a) => a.json().reference as string);
    expect(new Set(refs).size).toBe(3);

    expect(await windowTruth(f.sql, 'travail', WINDOW)).toEqual({ callbacks: 3, booked: 3 });
    const { rows } = await f.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM callbacks');
    expect(rows[0]!.n).toBe(3);
    const after = (await t.app.inject('/v1/slots?domain=travail')).json().slots as { start: string }[];
    expect(after.map((s) => s.start)).not.toContain(WINDOW);
  });
});
