/**
 * The pull-next ceiling (run in the generator process, bench/generator.ts): one loop per
 * informateur running the claim statement of src/repositories/dispatch.ts claimNext (captured
 * from the real function, see lib/explain.ts) on a plain pg pool, then finishing the claimed
 * callback so the desk is free again. Returns one ClaimResult.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { summarize } from './lib/stats.js';
import type { ClaimResult, ClaimSpec } from './lib/specs.js';

export async function runClaim(spec: ClaimSpec): Promise<ClaimResult> {
  const pool = new pg.Pool({ connectionString: spec.databaseUrl, max: spec.poolMax });
  pool.on('error', () => undefined);
  const FINISH = `UPDATE callbacks SET status = 'completed', outcome = 'reached', attempts = attempts + 1,
    assigned_agent_id = NULL, assigned_at = NULL, lease_expires_at = NULL, ended_at = $2, updated_at = $2
    WHERE id = $1 AND status = 'assigned'`;

  let measuring = false;
  let stop = false;
  const samples: number[] = [];
  let claims = 0;
  let empty = 0;
  let errors = 0;
  let firstError: string | null = null;

  async function informateur(agentId: string): Promise<void> {
    while (!stop) {
      const now = new Date(Date.now() + spec.clockOffsetMs);
      const lease = new Date(now.getTime() + spec.leaseMinutes * 60_000);
      const values = spec.params.map((p) =>
        p === 'agent' ? agentId : p === 'domains' ? spec.domains : p === 'now' ? now : lease,
      );
      const t0 = performance.now();
      try {
        // A named prepared statement, as the service sends its hot statements (src/db/kysely.ts).
        const res = await pool.query<{ id: string }>({ name: 'bench_claim', text: spec.sql, values });
        const ms = performance.now() - t0;
        const id = res.rows[0]?.id;
        if (measuring) {
          samples.push(ms);
          if (id) claims++;
          else empty++;
        }
        if (id) await pool.query(FINISH, [id, now]);
      } catch (err) {
        errors++;
        firstError ??= (err as Error).message;
      }
    }
  }

  const loops = spec.agentIds.map((id) => informateur(id));
  await new Promise((r) => setTimeout(r, spec.warmupS * 1000));
  measuring = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, spec.durationS * 1000));
  measuring = false;
  const durationS = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  await pool.end();

  const result: ClaimResult = {
    durationS: Math.round(durationS * 100) / 100,
    claims,
    claimsPerS: Math.round((claims / durationS) * 100) / 100,
    empty,
    errors,
    firstError,
    latency: summarize(samples),
  };
  if (spec.samplesPath) writeFileSync(spec.samplesPath, JSON.stringify({ claim: samples }));
  return result;
}
