import { gzipSync } from 'node:zlib';
import pg from 'pg';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './support/runtime.js';
import { booking, createAgent, ops, postClosure } from './support/api.js';

const NOW = '2026-11-23T09:00:00+01:00'; // a Monday, the centre is open
const SLOT = '2026-11-23T10:00:00+01:00';

/** POST /v1/callbacks with these exact bytes and headers. */
function rawBooking(body: Buffer | string, headers: Record<string, string>): InjectOptions {
  return { method: 'POST', url: '/v1/callbacks', headers, payload: body };
}

/** POST /v1/agents/me/next (a route that takes no body) with this body and these headers. */
function pullWith(token: string, headers: Record<string, string>, payload: string | Buffer): InjectOptions {
  return {
    method: 'POST',
    url: '/v1/agents/me/next',
    headers: { ...headers, authorization: `Bearer ${token}` },
    payload,
  };
}

/** A booking's JSON with a subject holding « é », as text (to be encoded by the caller). */
function bookingJson(): string {
  return JSON.stringify(booking({ slotStart: SLOT, subject: 'préavis' }));
}

describe('JSON bodies are UTF-8, as sent: another charset, a compressed or malformed body is refused', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: pg.Pool;
  let t: TestContext;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new pg.Pool({ connectionString: db.url, max: 2 });
    t = await startTestApp(db.url, 'postgres', { now: NOW, env: NO_LIMITS });
    // Capacity for every booking the cases accept (one place per informateur and window).
    for (const name of ['Inès', 'Paul', 'Zoé', 'Marc', 'Anne']) await createAgent(t.app, ['travail'], name);
  });
  afterAll(async () => {
    await t?.close();
    await sql?.end();
    await db?.drop();
  });

  const callbacks = async () => Number((await sql.query('SELECT count(*) AS n FROM callbacks')).rows[0].n);

  it.each([
    ['charset=iso-8859-1, Latin-1 bytes', 'application/json; charset=iso-8859-1', 'latin1', 'iso-8859-1'],
    ['charset=utf-16', 'application/json; charset=utf-16', 'utf16le', 'utf-16'],
    ['charset="windows-1252", quoted', 'application/json; charset="windows-1252"', 'latin1', 'windows-1252'],
  ] as const)(
    '%s: 400 VALIDATION_ERROR naming the charset, nothing written',
    async (_n, type, enc, named) => {
      const before = await callbacks();
      const res = await t.app.inject(rawBooking(Buffer.from(bookingJson(), enc), { 'content-type': type }));
      expect(res.statusCode, res.body).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR', status: 400 });
      expect(res.json().detail).toContain(`« ${named} »`);
      expect(res.json().detail).toContain('UTF-8');
      expect(await callbacks()).toBe(before);
    },
  );

  it('bytes that are not UTF-8, with no charset declared: 400, not stored as U+FFFD', async () => {
    const before = await callbacks();
    const res = await t.app.inject(
      rawBooking(Buffer.from(bookingJson(), 'latin1'), { 'content-type': 'application/json' }),
    );
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    expect(res.json().detail).toContain('UTF-8');
    expect(await callbacks()).toBe(before);
    const { rows } = await sql.query(
      "SELECT count(*) AS n FROM callbacks WHERE subject LIKE '%' || chr(65533) || '%'",
    );
    expect(Number(rows[0].n)).toBe(0);
  });

  it('Content-Encoding gzip, the body compressed or not: 400, nothing written', async () => {
    const before = await callbacks();
    for (const body of [gzipSync(Buffer.from(bookingJson())), Buffer.from(bookingJson())]) {
      const res = await t.app.inject(
        rawBooking(body, { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
      );
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
      expect(res.json().detail).toContain('« gzip »');
    }
    expect(await callbacks()).toBe(before);
  });

  it('UTF-8 declared in any usual spelling, or with a BOM: accepted, « é » stored intact', async () => {
    const headers: Record<string, string>[] = [
      { 'content-type': 'application/json; charset=UTF-8' },
      { 'content-type': 'application/json;charset="utf8"' },
      { 'content-type': 'application/json', 'content-encoding': 'identity' },
    ];
    for (const h of headers) {
      const res = await t.app.inject(rawBooking(Buffer.from(bookingJson(), 'utf8'), h));
      expect(res.statusCode, res.body).toBe(201);
    }
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(bookingJson(), 'utf8')]);
    const res = await t.app.inject(rawBooking(bom, { 'content-type': 'application/json' }));
    expect(res.statusCode, res.body).toBe(201);
    const { rows } = await sql.query<{ subject: string }>('SELECT DISTINCT subject FROM callbacks');
    expect(rows.map((r) => r.subject)).toEqual(['préavis']);
  });

  it('an empty body sent as JSON is no body: fine where none is needed, a clear 400 where one is', async () => {
    const agent = await createAgent(t.app, ['logement'], 'Léa');
    const empty = { 'content-type': 'application/json' };
    const next = await t.app.inject(pullWith(agent.token, empty, ''));
    expect(next.statusCode, next.body).toBe(204);
    const closure = await postClosure(t.app, { date: '2026-12-02', reason: 'Formation' });
    expect(closure.statusCode, closure.body).toBe(201);
    const deleted = await t.app.inject({
      method: 'DELETE',
      url: `/v1/closures/${closure.json().id}`,
      headers: { ...empty, ...ops },
      payload: '',
    });
    expect(deleted.statusCode, deleted.body).toBe(204);
    const res = await t.app.inject(rawBooking('', empty));
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  it('a lone surrogate escape (\\ud800 without its pair) is refused, not stored as U+FFFD', async () => {
    const before = await callbacks();
    for (const subject of ['a\\ud800b', 'a\\udfffb', '\\ude00\\ud83d']) {
      const body = bookingJson().replace('"subject":"préavis"', `"subject":"${subject}"`);
      expect(body).toContain(subject);
      const res = await t.app.inject(rawBooking(body, { 'content-type': 'application/json' }));
      expect(res.statusCode, `${subject}: ${res.body}`).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
      expect(res.json().detail).toContain('sans sa paire');
    }
    expect(await callbacks()).toBe(before);
    // A pair is a character like any other.
    const pair = bookingJson().replace('"subject":"préavis"', '"subject":"\\ud83c\\udfe0"');
    const res = await t.app.inject(rawBooking(pair, { 'content-type': 'application/json' }));
    expect(res.statusCode, res.body).toBe(201);
    const { rows } = await sql.query<{ subject: string }>(
      'SELECT subject FROM callbacks WHERE reference = $1',
      [res.json().reference],
    );
    expect(rows[0]!.subject).toBe('🏠');
  });

  it('charset=us-ascii: read as the UTF-8 subset it is, refused when the bytes are not ASCII', async () => {
    const ascii = JSON.stringify(booking({ slotStart: '2026-11-23T11:00:00+01:00', subject: 'preavis' }));
    const ok = await t.app.inject(
      rawBooking(ascii, { 'content-type': 'application/json; charset=US-ASCII' }),
    );
    expect(ok.statusCode, ok.body).toBe(201);
    const before = await callbacks();
    const res = await t.app.inject(
      rawBooking(Buffer.from(bookingJson(), 'utf8'), {
        'content-type': 'application/json; charset=us-ascii',
      }),
    );
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().detail).toContain('hors ASCII');
    expect(await callbacks()).toBe(before);
  });

  it('a body of nothing but a BOM or white space is no body either', async () => {
    const agent = await createAgent(t.app, ['logement'], 'Noé');
    for (const payload of [Buffer.from([0xef, 0xbb, 0xbf]), ' \r\n\t ']) {
      const next = await t.app.inject(pullWith(agent.token, { 'content-type': 'application/json' }, payload));
      expect(next.statusCode, next.body).toBe(204);
    }
    // Text that is not JSON, on a route that takes no body: refused, not ignored.
    const texts: Record<string, string>[] = [
      { 'content-type': 'text/plain' },
      { 'content-type': 'text/plain; charset=iso-8859-1' },
      { 'content-type': 'text/plain', 'content-encoding': 'gzip' },
    ];
    for (const headers of texts) {
      const res = await t.app.inject(pullWith(agent.token, headers, 'hello'));
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    }
    // White space JSON does not know (no-break space, ideographic space) is not JSON: 400.
    for (const payload of ['\u00a0', '\u3000']) {
      const res = await t.app.inject(pullWith(agent.token, { 'content-type': 'application/json' }, payload));
      expect(res.statusCode, res.body).toBe(400);
    }
  });

  it('malformed JSON and prototype poisoning are still refused (400)', async () => {
    for (const body of ['{"domain":', '{"__proto__":{"x":1},"consent":true}']) {
      const res = await t.app.inject(rawBooking(body, { 'content-type': 'application/json' }));
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_ERROR' });
    }
  });
});
