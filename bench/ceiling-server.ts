/**
 * The ceilings of the HTTP scenarios, as their own process: a bare Fastify (same version as the
 * service, no plugins, no logger) on a plain pg pool of the service's size.
 *  - GET /slots: a constant JSON body, the size of the service's slot listing.
 *  - POST /intake: what the issue names as intake's ceiling, "one transaction with the same
 *    number of plain pg inserts": the five rows a slot booking with an Idempotency-Key writes
 *    (callback, window place upsert, event, outbox row, idempotency key), one plain INSERT each,
 *    BEGIN + 5 statements + COMMIT, with no lock, no read and no calendar rule; the callback's id
 *    is made as intake makes it (`newId`, time-ordered). (Intake itself sends one statement,
 *    rappel_book, which takes its locks, re-reads and writes the five rows.)
 * Env: DATABASE_URL, PORT, SLOTS_BODY_PATH, POOL_MAX, CLOCK_OFFSET_MS.
 */
import { createHash, randomBytes } from 'node:crypto';
import { newId } from '../src/db/ids.js';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.POOL_MAX ?? 10),
  application_name: 'rappel-ceiling', // waited for after each load, as the service is
});
pool.on('error', () => undefined);
const slotsBody = readFileSync(process.env.SLOTS_BODY_PATH ?? '', 'utf8');
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const ALPHABET = '346789ABCDEFGHJKMNPQRTVWXY';
const reference = () => `RAP-${[...randomBytes(6)].map((b) => ALPHABET[b % 26]).join('')}`;
/** Business clock of the service under test (APP_NOW), so rows look like the service's. */
const offsetMs = Number(process.env.CLOCK_OFFSET_MS ?? 0);
/** The windows of the intake scenario have ample capacity: the guard never refuses. */
const AMPLE_CAPACITY = 1_000_000;

interface Booking {
  domain: string;
  phone: string;
  slotStart: string;
  ficheId?: string;
  subject?: string;
}

const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });

app.get('/healthz', async () => ({ status: 'ok' }));
app.get('/slots', async (_req, reply) => reply.type('application/json; charset=utf-8').send(slotsBody));

app.post('/intake', async (req, reply) => {
  const b = req.body as Booking;
  const key = req.headers['idempotency-key'];
  const phone = `+33${b.phone.replace(/\D/g, '').slice(1)}`;
  const now = new Date(Date.now() + offsetMs);
  const start = new Date(b.slotStart);
  const end = new Date(start.getTime() + 30 * 60_000);
  const id = newId(now.getTime());
  const cancelToken = randomBytes(32).toString('base64url');
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    // A reference already taken is drawn again, as intake does (one in a few hundred at 1M rows).
    let ref = '';
    for (let attempt = 0; attempt < 5 && ref === ''; attempt++) {
      const candidate = reference();
      const r = await c.query(
        `INSERT INTO callbacks (id, reference, domain, mode, status, phone, phone_region, fiche_id, subject,
           window_start, window_end, due_at, queued_at, cancel_token_hash, created_at, updated_at)
         VALUES ($1, $2, $3, 'slot', 'scheduled', $4, 'FR', $5, $6, $7, $8, $7, NULL, $9, $10, $10)
         ON CONFLICT DO NOTHING RETURNING id`,
        [
          id,
          candidate,
          b.domain,
          phone,
          b.ficheId ?? null,
          b.subject ?? null,
          start,
          end,
          sha256(cancelToken),
          now,
        ],
      );
      if (r.rows.length === 1) ref = candidate;
    }
    if (ref === '') throw new Error('no free reference (or a duplicate phone)');
    await c.query(
      `INSERT INTO window_load AS w (domain, window_start, booked) VALUES ($1, $2, 1)
       ON CONFLICT (domain, window_start) DO UPDATE SET booked = w.booked + 1 WHERE w.booked < $3
       RETURNING booked`,
      [b.domain, start, AMPLE_CAPACITY],
    );
    await c.query(
      `INSERT INTO callback_events (callback_id, type, from_status, to_status, actor, at, data)
       VALUES ($1, 'created', NULL, 'scheduled', 'citizen', $2, $3)`,
      [id, now, JSON.stringify({ mode: 'slot' })],
    );
    // Written as already sent: the service's worker must not relay the ceiling's rows meanwhile.
    await c.query(
      `INSERT INTO outbox (job_name, job_id, payload, run_at, created_at, sent_at)
       VALUES ('callback-due', $1, $2, $3, $4, $4) RETURNING id`,
      [`due-${id}-${start.getTime()}`, JSON.stringify({ callbackId: id, dueAt: b.slotStart }), start, now],
    );
    const body = {
      id,
      reference: ref,
      status: 'scheduled',
      domain: b.domain,
      mode: 'slot',
      window: { start: b.slotStart, end: end.toISOString() },
      cancelToken,
    };
    if (typeof key === 'string') {
      await c.query(
        `INSERT INTO idempotency_keys (key, request_hash, response_status, response_body, created_at, expires_at)
         VALUES ($1, $2, 201, $3, $4, $5)
         ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash,
           response_status = EXCLUDED.response_status, response_body = EXCLUDED.response_body,
           created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at`,
        [key, sha256(JSON.stringify(b)), JSON.stringify(body), now, new Date(now.getTime() + 86_400_000)],
      );
    }
    await c.query('COMMIT');
    return reply.code(201).send(body);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
});

const close = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', () => void close());
process.once('SIGINT', () => void close());
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
