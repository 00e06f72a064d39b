/** The JSON specs the orchestrator hands to each load-generating child process. */
import type { Latency } from './stats.js';

export interface Timing {
  warmupS: number;
  durationS: number;
  /** If set, the child also writes its raw latency samples there (JSON, ms, by request kind). */
  samplesPath?: string;
}

/** autocannon (bench/load.ts): closed loop, `connections` requests in flight. */
export type LoadSpec = Timing &
  (
    | { kind: 'get'; url: string; connections: number }
    | {
        kind: 'intake';
        url: string;
        connections: number;
        domain: string;
        slotStarts: string[];
        /** First phone number index; each request takes the next one (all distinct). */
        phoneBase: number;
        idempotencyKeys: boolean;
      }
    | {
        kind: 'pull';
        /** Base URL of the API; each connection is one informateur looping pull -> outcome. */
        url: string;
        tokens: string[];
      }
  );

/** bench/pull-paced.ts: informateurs pausing between calls (random, mean pauseMs). */
export interface PacedPullSpec extends Timing {
  url: string;
  tokens: string[];
  pauseMs: number;
}

/** bench/open-loop.ts: a fixed offered load, latency counted from when each request was due. */
export interface OpenLoopSpec extends Timing {
  url: string;
  rate: number;
  domain: string;
  slotStarts: string[];
  phoneBase: number;
  idempotencyKeys: boolean;
}

/** bench/claim-ceiling.ts: the claim statement run by plain pg clients. */
export interface ClaimSpec extends Timing {
  databaseUrl: string;
  /** The statement claimNext sends, and what each of its parameters is. */
  sql: string;
  params: ('agent' | 'domains' | 'now' | 'lease')[];
  agentIds: string[];
  domains: string[];
  poolMax: number;
  /** Business clock minus wall clock (the service's APP_NOW clock), for the timestamps written. */
  clockOffsetMs: number;
  leaseMinutes: number;
}

export interface ClaimResult {
  durationS: number;
  claims: number;
  claimsPerS: number;
  empty: number;
  errors: number;
  firstError: string | null;
  latency: Latency;
}
