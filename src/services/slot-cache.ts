import { DOMAIN_CODES } from '../domain/domains.js';

/** The NOTIFY channel of migrations/0002_slot_change_notify.sql: payload a domain, or '*'. */
export const SLOTS_CHANNEL = 'rappel_slots';

/** Beyond this many cached lists (distinct from/days queries), everything is dropped. */
const MAX_ENTRIES = 2_000;

/** A serialized slot list and the business instants (epoch ms) between which it holds. */
export interface SlotList {
  body: string;
  /** The `now` it was computed for: it says nothing about earlier instants. */
  computedAt: number;
  /** First instant it may be wrong at (TTL, minimum notice of its first window, midnight). */
  expiresAt: number;
}

interface Flight {
  epoch: number;
  gen: number;
  computedAt: number;
  promise: Promise<SlotList>;
}

/**
 * The slot lists of one API process, as the JSON bodies GET /v1/slots sends. PostgreSQL tells
 * every process when availability changes (NOTIFY at commit, see the migration); this process
 * also drops everything itself after its own writes (services/index.ts), so that a client reads
 * its own booking at once. While the LISTEN connection is down, notifications may be missed:
 * the cache is then not used at all (`live` false) and is emptied when it comes back.
 *
 * A list computed from reads that began before an invalidation is never stored: every
 * invalidation bumps a generation, taken before the computation and checked before storing.
 */
export class SlotCache {
  private readonly entries = new Map<string, Map<string, SlotList>>();
  private readonly gens = new Map<string, number>();
  private readonly flights = new Map<string, Flight>();
  private epoch = 0;
  private count = 0;
  private isLive = false;

  constructor(readonly ttlMs: number) {}

  /** Whether lists may be served from memory (the LISTEN connection is up). */
  get live(): boolean {
    return this.isLive;
  }

  setLive(live: boolean): void {
    // Either way, whatever was cached or is being computed may have missed a notification.
    this.isLive = live;
    this.invalidateAll();
  }

  get size(): number {
    return this.count;
  }

  /**
   * The body for (domain, key) at business time `nowMs`: from memory when fresh, else from
   * `compute` (concurrent misses of one key share one computation). Null when the cache is not
   * live: the caller computes without it.
   */
  async lookup(
    domain: string,
    key: string,
    nowMs: number,
    compute: () => Promise<SlotList>,
  ): Promise<string | null> {
    if (!this.isLive) return null;
    const byKey = this.entries.get(domain);
    const hit = byKey?.get(key);
    if (hit !== undefined) {
      if (nowMs >= hit.computedAt && nowMs < hit.expiresAt) return hit.body;
      byKey!.delete(key);
      this.count -= 1;
    }
    const epoch = this.epoch;
    const gen = this.gens.get(domain) ?? 0;
    const flightKey = `${domain}\n${key}`;
    const flight = this.flights.get(flightKey);
    if (flight && flight.epoch === epoch && flight.gen === gen && nowMs >= flight.computedAt) {
      const shared = await flight.promise;
      if (nowMs < shared.expiresAt) return shared.body;
    }
    const promise = compute();
    const own: Flight = { epoch, gen, computedAt: nowMs, promise };
    this.flights.set(flightKey, own);
    try {
      const list = await promise;
      if (this.isLive && this.epoch === epoch && (this.gens.get(domain) ?? 0) === gen)
        this.store(domain, key, list);
      return list.body;
    } finally {
      if (this.flights.get(flightKey) === own) this.flights.delete(flightKey);
    }
  }

  private store(domain: string, key: string, list: SlotList): void {
    if (list.expiresAt <= list.computedAt) return;
    if (this.count >= MAX_ENTRIES) this.dropEntries();
    let byKey = this.entries.get(domain);
    if (byKey === undefined) {
      byKey = new Map();
      this.entries.set(domain, byKey);
    }
    if (!byKey.has(key)) this.count += 1;
    byKey.set(key, list);
  }

  private dropEntries(): void {
    this.entries.clear();
    this.count = 0;
  }

  /** Availability of one domain changed (a booking, a cancel, an informateur). */
  invalidate(domain: string): void {
    this.gens.set(domain, (this.gens.get(domain) ?? 0) + 1);
    const byKey = this.entries.get(domain);
    if (byKey !== undefined) {
      this.count -= byKey.size;
      byKey.clear();
    }
  }

  /** Availability of every domain may have changed (closures, lost notifications). */
  invalidateAll(): void {
    this.epoch += 1;
    this.dropEntries();
  }

  /** A NOTIFY payload: a domain code, or '*' (anything else is taken as '*'). */
  onNotification(payload: string): void {
    if ((DOMAIN_CODES as readonly string[]).includes(payload)) this.invalidate(payload);
    else this.invalidateAll();
  }
}
