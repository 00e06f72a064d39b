import { describe, expect, it } from 'vitest';
import { createAgent, postClosure } from '../support/api.js';
import { book, intakeFixture, randomPhone } from './support.js';

const f = intakeFixture();
const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
/** The Unix milliseconds a version 7 id carries. */
const millisOf = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);

describe('row ids', () => {
  it('are UUID version 7 on the business clock, later callbacks sorting after earlier ones (src/db/ids.ts)', async () => {
    const t = await f.start('postgres');
    const at = t.clock.now().toMillis();
    const agent = await createAgent(t.app, ['travail']);
    const first = await book(t.app, { phone: randomPhone() });
    t.clock.advance({ seconds: 1 });
    const second = await book(t.app, { phone: randomPhone(), slotStart: '2026-11-23T09:30:00+01:00' });
    const closure = await postClosure(t.app, { date: '2026-11-27', reason: 'Inventaire' });
    expect(closure.statusCode, closure.body).toBe(201);
    const closureId = (closure.json() as { id: string }).id;
    for (const id of [agent.id, first.id, second.id, closureId]) expect(id).toMatch(V7);
    expect([agent.id, first.id].map(millisOf)).toEqual([at, at]);
    expect(millisOf(second.id)).toBe(at + 1000);
    const r = await f.sql.query<{ later: boolean }>('SELECT $1::uuid > $2::uuid AS later', [
      second.id,
      first.id,
    ]);
    expect(r.rows[0]!.later).toBe(true);
  });
});
