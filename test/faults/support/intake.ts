import { randomInt, randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { call } from './http.js';
import { sleep } from './rappel.js';

export const DOMAINS = ['travail', 'interieur', 'justice', 'logement'] as const;

/** What one attempt of a request got: an HTTP answer, or none (refused, reset, timed out). */
export interface Answer {
  status: number | null;
  code?: string;
  id?: string;
  replayed?: boolean;
  error?: string;
  ms: number;
  body?: Record<string, unknown>;
}

/** One citizen request (one Idempotency-Key, one phone) and every attempt made with it. */
export interface IntakeRequest {
  readonly key: string;
  readonly body: Record<string, unknown>;
  /** The phone as stored (E.164). */
  readonly e164: string;
  readonly answers: Answer[];
}

// 06 40 00 00 00 – 06 87 99 99 99: mainland mobiles only. 06 39 is Mayotte and 06 90–06 99
// the overseas departments: a national writing there is stored as +262/+590/+594/+596, not +33
// (a counter that once started in 06 39 made every request of a run look lost).
let phoneCounter = randomInt(40_000_000, 87_000_000);

/** A fresh mobile number in national writing, and its E.164 form. */
export function nextPhone(): { national: string; e164: string } {
  phoneCounter += 1;
  const national = `06${String(phoneCounter).padStart(8, '0')}`;
  return { national, e164: `+33${national.slice(1)}` };
}

/** Window starts of Monday 23 November 2026 (08:30–18:15), from `from` on. */
export function windowsOfMonday(from = '09:00'): string[] {
  const out: string[] = [];
  let t = DateTime.fromISO(`2026-11-23T${from}:00`, { zone: 'Europe/Paris' });
  const close = DateTime.fromISO('2026-11-23T18:15:00', { zone: 'Europe/Paris' });
  while (t < close) {
    out.push(t.toISO({ suppressMilliseconds: true })!);
    t = t.plus({ minutes: 30 });
  }
  return out;
}

/** Every attempt, acknowledged or not, by Idempotency-Key. */
export class Ledger {
  readonly requests: IntakeRequest[] = [];

  slot(domain: string, slotStart: string, extra: Record<string, unknown> = {}): IntakeRequest {
    return this.add({ domain, mode: 'slot', slotStart, ...extra });
  }

  asap(domain: string, extra: Record<string, unknown> = {}): IntakeRequest {
    return this.add({ domain, mode: 'asap', ...extra });
  }

  private add(fields: Record<string, unknown>): IntakeRequest {
    const phone = nextPhone();
    const req: IntakeRequest = {
      key: randomUUID(),
      body: { phone: phone.national, ficheId: 'F2258', consent: true, ...fields },
      e164: phone.e164,
      answers: [],
    };
    this.requests.push(req);
    return req;
  }

  acked(): IntakeRequest[] {
    return this.requests.filter((r) => r.answers.some((a) => a.status === 201));
  }

  /** Requests that never got a 201 and at least once got no answer: their fate is unknown. */
  unknown(): IntakeRequest[] {
    return this.requests.filter(
      (r) => !r.answers.some((a) => a.status === 201) && r.answers.some((a) => a.status === null),
    );
  }

  statuses(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests)
      for (const a of r.answers) {
        const k = a.status === null ? 'no-answer' : String(a.status);
        out[k] = (out[k] ?? 0) + 1;
      }
    return out;
  }
}

/** Sends the request (again) with its Idempotency-Key; records and returns the answer. */
export async function submit(baseUrl: string, req: IntakeRequest, timeoutMs = 10_000): Promise<Answer> {
  const started = Date.now();
  let answer: Answer;
  try {
    const r = await call(baseUrl, 'POST', '/v1/callbacks', {
      body: req.body,
      headers: { 'idempotency-key': req.key },
      timeoutMs,
    });
    answer = {
      status: r.status,
      ms: r.ms,
      body: r.body,
      ...(typeof r.body.code === 'string' ? { code: r.body.code } : {}),
      ...(r.status === 201 ? { id: r.body.id as string } : {}),
      ...(r.headers.get('idempotent-replayed') === 'true' ? { replayed: true } : {}),
    };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    answer = { status: null, error: e.cause?.code ?? e.name, ms: Date.now() - started };
  }
  req.answers.push(answer);
  return answer;
}

export interface SteadyIntake {
  /** Stops sending new requests and waits for those in flight. */
  stop(): Promise<void>;
  readonly sent: number;
}

/**
 * Steady intake: `concurrency` clients each sending one new request after another to
 * `target()` (which may change while it runs), until stopped or `max` requests were sent.
 */
export function steadyIntake(opts: {
  target: () => string;
  ledger: Ledger;
  next: (i: number) => IntakeRequest;
  concurrency?: number;
  max?: number;
  /** Pause of each client between two requests. */
  pauseMs?: number;
  timeoutMs?: number;
}): SteadyIntake {
  let stopped = false;
  let sent = 0;
  const loops = Array.from({ length: opts.concurrency ?? 4 }, async () => {
    while (!stopped && sent < (opts.max ?? Infinity)) {
      const req = opts.next(sent++);
      const a = await submit(opts.target(), req, opts.timeoutMs);
      // A refused connection answers at once: do not spin on a dead port.
      if (a.status === null || a.status >= 500) await sleep(25);
      else if (opts.pauseMs) await sleep(opts.pauseMs);
    }
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
    get sent() {
      return sent;
    },
  };
}

/** Round-robin over domains and windows: spreads the load so that no window fills up. */
export function spread(ledger: Ledger, windows = windowsOfMonday()): (i: number) => IntakeRequest {
  return (i) =>
    ledger.slot(DOMAINS[i % DOMAINS.length]!, windows[Math.floor(i / DOMAINS.length) % windows.length]!);
}

/** Runs `fn` over the items, `concurrency` at a time (retries of a batch of requests). */
export async function eachConcurrently<T>(
  items: T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
