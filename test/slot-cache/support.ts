import type pg from 'pg';
import { expect } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { OPS_TOKEN } from '../support/runtime.js';

export interface Slot {
  start: string;
  end: string;
  remaining: number;
}

export interface Listing {
  status: number;
  contentType: string | undefined;
  body: string;
  slots: Slot[];
}

function listingOf(status: number, contentType: string | undefined, body: string): Listing {
  expect(status, body).toBe(200);
  return { status, contentType, body, slots: (JSON.parse(body) as { slots: Slot[] }).slots };
}

/** GET /v1/slots?<query> through app.inject. */
export async function list(app: FastifyInstance, query: string): Promise<Listing> {
  const res = await app.inject(`/v1/slots?${query}`);
  return listingOf(res.statusCode, res.headers['content-type'] as string | undefined, res.body);
}

/** GET /v1/slots?<query> over HTTP (another process). */
export async function listOver(baseUrl: string, query: string): Promise<Listing> {
  const res = await fetch(`${baseUrl}/v1/slots?${query}`);
  return listingOf(res.status, res.headers.get('content-type') ?? undefined, await res.text());
}

/** Places left in the window starting at `start`, or 0 when it is not listed. */
export function remainingAt(listing: Listing, start: string): number {
  return listing.slots.find((s) => s.start === start)?.remaining ?? 0;
}

/**
 * Writes behind the service's back without firing triggers (session_replication_role =
 * replica: no NOTIFY): what a process then lists can only come from its memory. The tests use
 * it to show that a listing is cached, then undo it the same way.
 */
export async function quietly(sql: pg.Pool, text: string, params: unknown[] = []): Promise<void> {
  const c = await sql.connect();
  try {
    await c.query('BEGIN');
    await c.query('SET LOCAL session_replication_role = replica');
    await c.query(text, params);
    await c.query('COMMIT');
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

/**
 * Polls `probe` until it returns true, for changes that reach another connection or process
 * asynchronously (a NOTIFY, a reconnection); fails after `timeoutMs`.
 */
export async function eventually(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs = 1_000,
): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const opsHeaders = { authorization: `Bearer ${OPS_TOKEN}`, 'content-type': 'application/json' };
