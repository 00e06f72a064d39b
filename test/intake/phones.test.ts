import { describe, expect, it } from 'vitest';
import { booking, createAgent } from '../support/api.js';
import { callbackRow, expectProblem, intakeFixture, postCallback } from './support.js';

const f = intakeFixture();

/** Each booking in its own window so that capacity 1 never refuses one. */
const windowStart = (i: number) =>
  `2026-11-23T${String(9 + Math.floor(i / 2)).padStart(2, '0')}:${i % 2 ? '30' : '00'}:00+01:00`;

describe('phone writings: stored as E.164, shown masked', () => {
  it.each([
    ['06 12 34 56 78', '+33612345678', 'FR', '06 •• •• •• 78'],
    ['+33 6 12 34 56 78', '+33612345678', 'FR', '06 •• •• •• 78'],
    ['0033612345678', '+33612345678', 'FR', '06 •• •• •• 78'],
    ['06.12.34.56.78', '+33612345678', 'FR', '06 •• •• •• 78'],
    ['01 23 45 67 89', '+33123456789', 'FR', '01 •• •• •• 89'],
    ['0690 12 34 56', '+590690123456', 'GP', '0690 •• •• 56'],
    ['+262 692 12 34 56', '+262692123456', 'RE', '0692 •• •• 56'],
  ])('%s is stored as %s', async (written, e164, region, masked) => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const res = await postCallback(t.app, booking({ phone: written }));
    expect(res.statusCode, res.body).toBe(201);
    const created = res.json() as { reference: string; cancelToken: string };
    expect(res.body).not.toContain(e164);
    const row = await callbackRow(f.sql, created.reference);
    expect(row?.phone).toBe(e164);
    expect(row?.phone_region).toBe(region);

    const view = await t.app.inject({
      url: `/v1/callbacks/${created.reference}`,
      headers: { 'x-cancel-token': created.cancelToken },
    });
    expect(view.statusCode).toBe(200);
    expect(view.json().phone).toBe(masked);
    expect(view.body).not.toContain(e164.slice(1));
  });

  it('three writings of one number are one phone: the second and third are duplicates', async () => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail', 'interieur', 'justice', 'logement']);
    expect((await postCallback(t.app, booking({ phone: '06 12 34 56 78' }))).statusCode).toBe(201);
    for (const [i, phone] of ['+33 6 12 34 56 78', '0033612345678', '+33 (0)6 12 34 56 78'].entries()) {
      expectProblem(
        await postCallback(t.app, booking({ phone, slotStart: windowStart(i + 1) })),
        'DUPLICATE_REQUEST',
      );
    }
    // The same number in the other domains is accepted, stored the same way.
    for (const [i, domain] of ['interieur', 'justice', 'logement'].entries()) {
      const res = await postCallback(
        t.app,
        booking({
          domain,
          phone: ['+33 6 12 34 56 78', '0033612345678', '06-12-34-56-78'][i],
          slotStart: windowStart(i),
        }),
      );
      expect(res.statusCode, res.body).toBe(201);
    }
    const { rows } = await f.sql.query<{ phone: string; n: number }>(
      'SELECT phone, count(*)::int AS n FROM callbacks GROUP BY phone',
    );
    expect(rows).toEqual([{ phone: '+33612345678', n: 4 }]);
  });

  it.each([
    ['0899 12 34 56', 'premium-rate'],
    ['08 99 12 34 56', 'premium-rate'],
    ['0891 12 34 56', 'premium-rate'],
    ['3939', 'short'],
    ['118 712', 'short'],
    ['06 12 34 56', 'too short'],
    ['06 12 34 56 78 9', 'too long'],
    ['+1 202 555 0143', 'foreign'],
    ['06 12 AB 56 78', 'letters'],
  ])('%s (%s) is refused with INVALID_PHONE and nothing stored', async (phone) => {
    const t = await f.start('postgres');
    await createAgent(t.app, ['travail']);
    const problem = expectProblem(await postCallback(t.app, booking({ phone })), 'INVALID_PHONE');
    expect(JSON.stringify(problem)).not.toContain(phone);
    const { rows } = await f.sql.query('SELECT 1 FROM callbacks');
    expect(rows).toHaveLength(0);
  });
});
