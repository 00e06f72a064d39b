import fc from 'fast-check';
import { DateTime } from 'luxon';

/** The model of the property test: what the services must do, predicted from the outside. */

export const START = '2026-11-23T09:00:00+01:00';
export const WINDOWS = ['09:00', '09:30', '10:00', '10:30'].map((t) =>
  DateTime.fromISO(`2026-11-23T${t}:00+01:00`, { setZone: true }),
);
export const BOOK_DOMAINS = ['travail', 'logement'] as const;
export const PHONES = ['06 11 22 33 44', '+33 6 55 66 77 88', '0033699887766', '06.21.43.65.87'];
/** Three informateurs: two of travail, one of travail and logement (capacity 3 and 1). */
export const AGENT_DOMAINS = [['travail'], ['travail'], ['logement', 'travail']];
export const OUTCOMES = ['reached', 'no_answer', 'wrong_number', 'redirected'] as const;
export const ACTIVE = ['scheduled', 'queued', 'assigned'];
export const LEASE_MINUTES = 30;
export const MAX_ATTEMPTS = 3;

export type Op =
  | { kind: 'book'; domain: number; window: number; phone: number }
  | { kind: 'cancel'; pick: number }
  | { kind: 'pull'; agent: number }
  /** By an informateur with a callback on the desk (if any, when `ownDesk`), else by anyone. */
  | { kind: 'outcome'; agent: number; ownDesk: boolean; outcome: (typeof OUTCOMES)[number] }
  | { kind: 'advance'; minutes: number }
  | { kind: 'leaseExpiry' }
  | { kind: 'dueTwice'; pick: number }
  | { kind: 'dispatchTwice'; domain: number }
  | { kind: 'reconcile' };

const agentIx = fc.integer({ min: 0, max: AGENT_DOMAINS.length - 1 });
const pick = fc.nat(50);
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('book' as const),
      // Biased towards travail (capacity 3) and the 09:00 window (due at once): more calls.
      domain: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1 })),
      window: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: WINDOWS.length - 1 })),
      phone: fc.integer({ min: 0, max: PHONES.length - 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('pull' as const), agent: agentIx }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('outcome' as const),
      agent: agentIx,
      ownDesk: fc.boolean(),
      // Biased towards no answer: retries, and failures after the last attempt.
      outcome: fc.oneof(fc.constant('no_answer' as const), fc.constantFrom(...OUTCOMES)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), minutes: fc.integer({ min: 1, max: 20 }) }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'leaseExpiry' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('dueTwice' as const), pick }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('dispatchTwice' as const),
      domain: fc.integer({ min: 0, max: 1 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reconcile' as const }) },
);

export interface MCallback {
  id: string;
  reference: string;
  cancelToken: string;
  domain: string;
  windowStart: number;
  phone: number;
  status: string;
  attempts: number;
  dueAt: number;
  carriedOver: boolean;
  agent: string | null;
  /** Every informateur it was ever given to (told its state when their outcome is refused). */
  heldBy: Set<string>;
  leaseUntil: number | null;
  /** Events the history must hold, by type. */
  events: Record<string, number>;
}

export interface MAgent {
  id: string;
  domains: string[];
  status: string;
  /** Wall clock (ms) when their last outcome returned: push leaves them PUSH_GRACE_MS to pull. */
  freedAt?: number;
}

export class Model {
  readonly callbacks: MCallback[] = [];
  readonly agents: MAgent[] = [];

  capacity(domain: string): number {
    return this.agents.filter((a) => a.domains.includes(domain)).length;
  }

  /**
   * Places of a window its bookings hold: one each, given back by a cancel before the first call
   * (or a move); a call gives none back (its window has started: with MIN_NOTICE_MINUTES=0, as
   * here, a window is still bookable at its very start, and then has the called ones' places taken).
   */
  holding(domain: string, windowStart: number): number {
    return this.callbacks.filter(
      (c) =>
        c.domain === domain &&
        c.windowStart === windowStart &&
        !(c.status === 'cancelled' && c.attempts === 0),
    ).length;
  }

  activeFor(phone: number, domain: string): MCallback | undefined {
    return this.callbacks.find((c) => c.phone === phone && c.domain === domain && ACTIVE.includes(c.status));
  }

  deskOf(agentId: string): MCallback | undefined {
    return this.callbacks.find((c) => c.status === 'assigned' && c.agent === agentId);
  }

  pick(n: number): MCallback | undefined {
    return this.callbacks.length === 0 ? undefined : this.callbacks[n % this.callbacks.length];
  }

  count(c: MCallback, event: string): void {
    c.events[event] = (c.events[event] ?? 0) + 1;
  }

  /** Scheduled callbacks whose time has come become queued (job, sweep or pull). */
  queueDue(now: number, domains?: string[]): void {
    for (const c of this.callbacks) {
      if (c.status === 'scheduled' && c.dueAt <= now && (!domains || domains.includes(c.domain))) {
        c.status = 'queued';
        this.count(c, 'queued');
      }
    }
  }

  assign(c: MCallback, agentId: string, now: number): void {
    c.status = 'assigned';
    c.agent = agentId;
    c.heldBy.add(agentId);
    c.leaseUntil = now + LEASE_MINUTES * 60_000;
    this.count(c, 'assigned');
  }

  /** Expired leases: back to the queue; the informateur, if available, is paused. */
  releaseLeases(now: number): void {
    for (const c of this.callbacks) {
      if (c.status !== 'assigned' || c.leaseUntil === null || c.leaseUntil > now) continue;
      const agent = this.agents.find((a) => a.id === c.agent)!;
      if (agent.status === 'available') agent.status = 'paused';
      c.status = 'queued';
      c.agent = null;
      c.leaseUntil = null;
      this.count(c, 'lease_expired');
    }
  }

  carryOver(): void {
    for (const c of this.callbacks) {
      if (c.status === 'queued' && !c.carriedOver) {
        c.carriedOver = true;
        this.count(c, 'carried_over');
      }
    }
  }

  /** Claim order: carried over first, then earliest due, then fewest attempts. */
  static claimKey(c: MCallback): [number, number, number] {
    return [c.carriedOver ? 0 : 1, c.dueAt, c.attempts];
  }

  static compare(a: MCallback, b: MCallback): number {
    const ka = Model.claimKey(a);
    const kb = Model.claimKey(b);
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2];
  }
}
