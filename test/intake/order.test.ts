import { describe, expect, it } from 'vitest';
import { booking, createAgent } from '../support/api.js';
import { addClosure, expectNextSlots, expectProblem, intakeFixture, postCallback } from './support.js';

const f = intakeFixture();

const MONDAY_0900 = '2026-11-23T09:00:00+01:00';

describe('the contract order of refusals', () => {
  it('schema before phone, phone before the calendar', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    expectProblem(
      await postCallback(t.app, booking({ phone: '0899 12 34 56', consent: false })),
      'VALIDATION_ERROR',
    );
    expectProblem(
      await postCallback(t.app, booking({ phone: '0899 12 34 56', slotStart: '2026-11-28T09:00:00+01:00' })),
      'INVALID_PHONE',
    );
  });

  it('a closed day wins over every window rule and over a duplicate', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await createAgent(t.app, ['travail']);
    const first = booking({ slotStart: '2026-11-23T11:00:00+01:00' });
    expect((await postCallback(t.app, first)).statusCode).toBe(201);
    const cases: [string, string][] = [
      ['2026-11-28T09:00:00+01:00', 'weekend'], // Saturday, and a duplicate
      ['2026-11-28T09:10:00+01:00', 'weekend'], // and not a window start
      ['2026-11-22T09:00:00+01:00', 'weekend'], // and past
      ['2026-12-25T14:00:00+01:00', 'holiday'], // and beyond the horizon
    ];
    for (const [slotStart, reason] of cases) {
      const problem = expectProblem(
        await postCallback(t.app, booking({ phone: first.phone, slotStart })),
        'CENTRE_CLOSED',
      );
      expect(problem.reason, slotStart).toBe(reason);
    }
    // A time inside a part-day closure is CENTRE_CLOSED too, before "not a window start".
    await addClosure(f.sql, '2026-11-26', { start: '10:00', end: '12:00' });
    const part = expectProblem(
      await postCallback(t.app, booking({ phone: first.phone, slotStart: '2026-11-26T10:10:00+01:00' })),
      'CENTRE_CLOSED',
    );
    expect(part.reason).toBe('closure');
  });

  it('outside opening hours wins over the window rules', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    await createAgent(t.app, ['travail']);
    for (const slotStart of [
      '2026-11-23T07:00:00+01:00', // and past
      '2026-12-15T14:00:00+01:00', // Tuesday afternoon, and beyond the horizon
      '2026-11-24T13:10:00+01:00', // and not a window start
    ]) {
      expectProblem(await postCallback(t.app, booking({ slotStart })), 'OUTSIDE_OPENING_HOURS');
    }
  });

  it('the window rules win over a duplicate and over a full window', async () => {
    const t = await f.start('postgres', { now: '2026-11-23T08:50:00+01:00' });
    await createAgent(t.app, ['travail']);
    const first = booking({ slotStart: '2026-11-23T09:30:00+01:00' });
    expect((await postCallback(t.app, first)).statusCode).toBe(201);
    // 09:30 is now full; a duplicate asks for it after its time rules are broken.
    t.clock.set(t.clock.now().set({ hour: 9, minute: 20 }));
    const problem = expectProblem(
      await postCallback(t.app, booking({ phone: first.phone, slotStart: '2026-11-23T09:30:00+01:00' })),
      'SLOT_NOT_AVAILABLE',
    );
    expect(problem.reason).toBe('too_soon');
  });

  it('a duplicate wins over a full window', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const first = booking({ slotStart: MONDAY_0900 });
    expect((await postCallback(t.app, first)).statusCode).toBe(201);
    // Same phone, same full window: DUPLICATE_REQUEST, not SLOT_FULL.
    expectProblem(
      await postCallback(t.app, booking({ phone: first.phone, slotStart: MONDAY_0900 })),
      'DUPLICATE_REQUEST',
    );
    expectProblem(await postCallback(t.app, booking({ slotStart: MONDAY_0900 })), 'SLOT_FULL');
  });
});

describe('nextSlots on slot refusals', () => {
  it('skips full windows and closures: the next three bookable windows', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    expect((await postCallback(t.app, booking({ slotStart: '2026-11-23T08:30:00+01:00' }))).statusCode).toBe(
      201,
    );
    await addClosure(f.sql, '2026-11-23', { start: '09:00', end: '10:00' });
    const problem = expectProblem(
      await postCallback(t.app, booking({ slotStart: '2026-11-23T08:30:00+01:00' })),
      'SLOT_FULL',
    );
    expect(problem.nextSlots).toEqual([
      { start: '2026-11-23T10:00:00+01:00', end: '2026-11-23T10:30:00+01:00' },
      { start: '2026-11-23T10:30:00+01:00', end: '2026-11-23T11:00:00+01:00' },
      { start: '2026-11-23T11:00:00+01:00', end: '2026-11-23T11:30:00+01:00' },
    ]);
    await expectNextSlots(t.app, problem);
  });

  it('after Friday closing they are on Monday, past the minimum notice', async () => {
    const t = await f.start('postgres', { now: '2026-11-27T16:50:00+01:00' });
    await createAgent(t.app, ['logement']);
    const problem = expectProblem(
      await postCallback(t.app, booking({ domain: 'logement', slotStart: '2026-11-27T16:30:00+01:00' })),
      'SLOT_NOT_AVAILABLE',
    );
    expect(problem.reason).toBe('past');
    expect((problem.nextSlots as { start: string }[]).map((s) => s.start)).toEqual([
      '2026-11-30T08:30:00+01:00',
      '2026-11-30T09:00:00+01:00',
      '2026-11-30T09:30:00+01:00',
    ]);
    await expectNextSlots(t.app, problem, { domain: 'logement' });
  });

  it('are offered for the requested domain', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    await createAgent(t.app, ['justice']);
    // Fill 08:30 for justice only: justice's next slots start later than travail's.
    expect(
      (await postCallback(t.app, booking({ domain: 'justice', slotStart: '2026-11-23T08:30:00+01:00' })))
        .statusCode,
    ).toBe(201);
    const problem = expectProblem(
      await postCallback(t.app, booking({ domain: 'justice', slotStart: '2026-11-28T09:00:00+01:00' })),
      'CENTRE_CLOSED',
    );
    expect((problem.nextSlots as { start: string }[])[0]?.start).toBe(MONDAY_0900);
    await expectNextSlots(t.app, problem, { domain: 'justice' });
  });
});
