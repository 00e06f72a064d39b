import { describe, expect, it } from 'vitest';
import { createAgent } from '../support/api.js';
import { book, intakeFixture, randomPhone } from './support.js';

const f = intakeFixture();
const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('row ids', () => {
  it('are UUID version 7, later callbacks sorting after earlier ones (src/db/ids.ts)', async () => {
    const t = await f.start('postgres');
    const agent = await createAgent(t.app, ['travail']);
    expect(agent.id).toMatch(V7);
    const first = await book(t.app, { phone: randomPhone() });
    await new Promise((r) => setTimeout(r, 2)); // the next millisecond at least
    const second = await book(t.app, { phone: randomPhone(), slotStart: '2026-11-23T09:30:00+01:00' });
    expect(first.id).toMatch(V7);
    expect(second.id).toMatch(V7);
    const r = await f.sql.query<{ later: boolean }>('SELECT $1::uuid > $2::uuid AS later', [
      second.id,
      first.id,
    ]);
    expect(r.rows[0]!.later).toBe(true);
  });
});
