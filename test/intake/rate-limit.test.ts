import { randomInt } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { booking, createAgent } from '../support/api.js';
import { keyLockOf } from '../../src/services/intake-booking.js';
import { BACKENDS } from '../support/runtime.js';
import { expectProblem, intakeFixture, postCallback, randomPhones, rowCounts } from './support.js';

const f = intakeFixture();

/** Counters may live in the shared Redis: each test run comes from its own address. */
const randomIp = () => `10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

function retryAfter(res: LightMyRequestResponse): number {
  const header = res.headers['retry-after'];
  expect(header, 'Retry-After header').toMatch(/^\d+$/);
  return Number(header);
}

describe.each(BACKENDS)('intake abuse limits on the %s backend', (backend) => {
  it('RATE_LIMITED with Retry-After past RATE_LIMIT_PER_IP_PER_MINUTE, nothing written', async () => {
    const t = await f.start(backend, {
      now: '2026-11-23T08:00:30+01:00',
      env: { RATE_LIMIT_PER_IP_PER_MINUTE: '3', TRUST_PROXY: 'true' },
    });
    await createAgent(t.app, ['travail', 'logement']);
    const ip = randomIp();
    const from = { 'x-forwarded-for': ip };
    const phones = randomPhones(6);
    // Refused requests count too: a flood of malformed requests is limited as well.
    expectProblem(await postCallback(t.app, { nonsense: true }, from), 'VALIDATION_ERROR');
    for (const phone of phones.slice(0, 2)) {
      expect((await postCallback(t.app, booking({ phone }), from)).statusCode).toBeLessThan(500);
    }
    const before = await rowCounts(f.sql);
    const limited = await postCallback(
      t.app,
      booking({ phone: phones[2], slotStart: '2026-11-23T11:00:00+01:00' }),
      from,
    );
    expect(expectProblem(limited, 'RATE_LIMITED')).toMatchObject({
      reason: 'ip',
      // The wait the detail says is Retry-After's (it said « dans une minute » for 30 s).
      detail: 'Trop de demandes depuis cette adresse. Réessayez dans 30 secondes.',
    });
    expect(retryAfter(limited)).toBe(30);
    expect(await rowCounts(f.sql)).toEqual(before);

    // Another address is not limited.
    const other = await postCallback(
      t.app,
      booking({ phone: phones[3], slotStart: '2026-11-23T11:00:00+01:00' }),
      {
        'x-forwarded-for': randomIp(),
      },
    );
    expect(other.statusCode, other.body).toBe(201);

    t.clock.advance({ seconds: retryAfter(limited) - 1 });
    expectProblem(await postCallback(t.app, booking({ phone: phones[4] }), from), 'RATE_LIMITED');
    t.clock.advance({ seconds: 1 });
    const again = await postCallback(
      t.app,
      booking({ phone: phones[4], slotStart: '2026-11-23T11:30:00+01:00' }),
      from,
    );
    expect(again.statusCode, again.body).toBe(201);
  });

  it('does not count replays of an Idempotency-Key against the phone limit: they get the first 201', async () => {
    const t = await f.start(backend, { env: { RATE_LIMIT_PER_PHONE_PER_DAY: '2' } });
    await createAgent(t.app, ['travail', 'logement']);
    const [phone] = randomPhones(1) as [string];
    const body = booking({ phone });
    const first = await postCallback(t.app, body, { 'idempotency-key': `k-${phone}` });
    expect(first.statusCode).toBe(201);
    for (let i = 0; i < 4; i += 1) {
      const replay = await postCallback(t.app, body, { 'idempotency-key': `k-${phone}` });
      expect(replay.statusCode, replay.body).toBe(201);
      expect(replay.json()).toEqual(first.json());
    }
    // A new demand for that phone is still counted: the second of the day passes, the third not.
    expect((await postCallback(t.app, booking({ phone, domain: 'logement' }))).statusCode).toBe(201);
    const third = expectProblem(
      await postCallback(t.app, booking({ phone, domain: 'justice' })),
      'RATE_LIMITED',
    );
    expect(third.reason).toBe('phone');
  });

  it('counts copies of one request sent at once as one demand: none is refused for the others', async () => {
    const t = await f.start(backend, { env: { RATE_LIMIT_PER_PHONE_PER_DAY: '2' } });
    await createAgent(t.app, ['travail', 'logement', 'justice']);
    const [phone] = randomPhones(1) as [string];
    expect((await postCallback(t.app, booking({ phone, domain: 'logement' }))).statusCode).toBe(201);
    // The day's last place for this phone, asked for 12 times at once with one key (a double click, retries).
    const body = booking({ phone });
    const key = { 'idempotency-key': `burst-${phone}` };
    const answers = await Promise.all(Array.from({ length: 12 }, () => postCallback(t.app, body, key)));
    const codes = answers.map((r) => (r.statusCode === 201 ? 201 : (r.json() as { code: string }).code));
    expect(
      codes.every((c) => c === 201 || c === 'IDEMPOTENCY_KEY_IN_USE'),
      codes.join(' '),
    ).toBe(true);
    const created = answers.filter((r) => r.statusCode === 201).map((r) => r.json().reference as string);
    expect(created.length).toBeGreaterThan(0);
    expect(new Set(created).size).toBe(1);
    await t.rt.services.intake.settled();
    // Counted once: the phone's day is now used up.
    expectProblem(await postCallback(t.app, booking({ phone, domain: 'justice' })), 'RATE_LIMITED');
  });

  it('does not use up the day for copies of a refused request, nor let another body under the key go uncounted', async () => {
    const t = await f.start(backend, {
      now: '2026-11-23T08:00:30+01:00',
      env: { RATE_LIMIT_PER_PHONE_PER_DAY: '2' },
    });
    await createAgent(t.app, ['travail', 'logement', 'justice']); // one place per window
    const [phone, neighbour] = randomPhones(2) as [string, string];
    const full = '2026-11-23T10:00:00+01:00';
    expect((await postCallback(t.app, booking({ phone: neighbour, slotStart: full }))).statusCode).toBe(201);
    // Eight copies at a full window: refused, and the phone's day is untouched.
    const key = { 'idempotency-key': `full-${phone}` };
    const copies = await Promise.all(
      Array.from({ length: 8 }, () => postCallback(t.app, booking({ phone, slotStart: full }), key)),
    );
    for (const c of copies) expect(['SLOT_FULL', 'IDEMPOTENCY_KEY_IN_USE']).toContain(c.json().code);
    await t.rt.services.intake.settled(); // a copy answered IN_USE gives its place back once the key is free
    // One key, two bodies at once: a closed day (refused) and a free window (created, counted).
    const other = { 'idempotency-key': `mixed-${phone}` };
    const [closed, free] = await Promise.all([
      postCallback(
        t.app,
        booking({ phone, domain: 'logement', slotStart: '2026-11-28T10:00:00+01:00' }),
        other,
      ),
      postCallback(t.app, booking({ phone, domain: 'logement' }), other),
    ]);
    expect(closed.statusCode).toBeGreaterThanOrEqual(400);
    expect(free.statusCode === 201 || free.json().code === 'IDEMPOTENCY_KEY_IN_USE', free.body).toBe(true);
    const created = free.statusCode === 201 ? 1 : 0;
    await t.rt.services.intake.settled();
    // The day holds 2: what is left is 2 minus what was created.
    const left = [];
    for (const domain of ['travail', 'justice', 'interieur'])
      left.push((await postCallback(t.app, booking({ phone, domain }))).statusCode);
    expect(left).toEqual(created === 1 ? [201, 429, 429] : [201, 201, 429]);
  });

  it('gives the count of a request answered IN_USE back once the key is free, nothing created under it', async () => {
    const t = await f.start(backend, { env: { RATE_LIMIT_PER_PHONE_PER_DAY: '1' } });
    await createAgent(t.app, ['travail', 'logement']);
    const [phone] = randomPhones(1) as [string];
    const key = `held-${phone}`;
    // Another session holds the key's lock, as a copy being booked would.
    const holder = new pg.Client({ connectionString: f.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [keyLockOf(key).toString()]);
      expectProblem(
        await postCallback(t.app, booking({ phone }), { 'idempotency-key': key }),
        'IDEMPOTENCY_KEY_IN_USE',
      );
      // Its settlement waits for the key; meanwhile the phone's one place is held.
      expectProblem(await postCallback(t.app, booking({ phone, domain: 'logement' })), 'RATE_LIMITED');
      await holder.query('SELECT pg_advisory_unlock($1::bigint)', [keyLockOf(key).toString()]);
      await t.rt.services.intake.settled();
    } finally {
      await holder.end();
    }
    // Nothing was stored under the key: the place is given back.
    expect((await postCallback(t.app, booking({ phone, domain: 'logement' }))).statusCode).toBe(201);
  });

  it('counts only the callbacks created for a phone: refused tries do not use up its day', async () => {
    // 2026-11-23 is a Monday; 2026-11-28 a Saturday.
    const t = await f.start(backend, {
      now: '2026-11-23T08:00:30+01:00',
      env: { RATE_LIMIT_PER_PHONE_PER_DAY: '2' },
    });
    await createAgent(t.app, ['travail', 'justice']);
    const [phone, neighbour] = randomPhones(2) as [string, string];
    const full = '2026-11-23T10:00:00+01:00';
    expect((await postCallback(t.app, booking({ phone: neighbour, slotStart: full }))).statusCode).toBe(201);
    // Three refusals for the phone: a full window, a closed day, a duplicate.
    expectProblem(await postCallback(t.app, booking({ phone, slotStart: full })), 'SLOT_FULL');
    expectProblem(
      await postCallback(t.app, booking({ phone, slotStart: '2026-11-28T10:00:00+01:00' })),
      'CENTRE_CLOSED',
    );
    expect((await postCallback(t.app, booking({ phone }))).statusCode).toBe(201);
    expectProblem(await postCallback(t.app, booking({ phone })), 'DUPLICATE_REQUEST');
    // The day's second callback is still allowed, the third is not.
    const second = await postCallback(t.app, booking({ phone, domain: 'justice' }));
    expect(second.statusCode, second.body).toBe(201);
    expectProblem(await postCallback(t.app, booking({ phone, domain: 'logement' })), 'RATE_LIMITED');
  });

  it('RATE_LIMITED with Retry-After past RATE_LIMIT_PER_PHONE_PER_DAY, whatever the writing', async () => {
    const t = await f.start(backend, { env: { RATE_LIMIT_PER_PHONE_PER_DAY: '2' } });
    await createAgent(t.app, ['travail', 'interieur', 'justice', 'logement']);
    const [phone, otherPhone] = randomPhones(2) as [string, string];
    const international = `+33 ${phone.slice(1)}`;
    expect((await postCallback(t.app, booking({ phone, domain: 'travail' }))).statusCode).toBe(201);
    expect(
      (await postCallback(t.app, booking({ phone: international, domain: 'interieur' }))).statusCode,
    ).toBe(201);
    const before = await rowCounts(f.sql);
    const limited = await postCallback(
      t.app,
      booking({ phone: `00${international.slice(1)}`, domain: 'justice' }),
    );
    expectProblem(limited, 'RATE_LIMITED');
    const wait = retryAfter(limited);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(86_400);
    expect(await rowCounts(f.sql)).toEqual(before);
    expect(limited.body).not.toContain(phone.slice(1));

    expect((await postCallback(t.app, booking({ phone: otherPhone, domain: 'justice' }))).statusCode).toBe(
      201,
    );

    t.clock.advance({ seconds: wait });
    const nextDay = await postCallback(
      t.app,
      booking({
        phone,
        domain: 'logement',
        slotStart: t.clock.now().plus({ days: 1 }).set({ hour: 9, minute: 0 }).toISO(),
      }),
    );
    expect(nextDay.statusCode, nextDay.body).toBe(201);
  });
});
