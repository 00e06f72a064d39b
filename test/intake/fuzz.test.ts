import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createAgent, setStatus } from '../support/api.js';
import { requests } from './fuzz-requests.js';
import { book, CONTRACT_CODES, intakeFixture, rowCounts } from './support.js';

const f = intakeFixture();
const RUNS = 300;

describe('intake under random and malformed requests', () => {
  it(`answers ${RUNS} of them with 2xx or a contract problem, never 5xx, and writes nothing when refusing`, async () => {
    const t = await f.start('postgres', { now: '2026-11-23T10:00:00+01:00' });
    const agent = await createAgent(t.app, ['travail', 'logement']);
    await setStatus(t.app, agent.token, 'available');
    const known = await book(t.app, { slotStart: '2026-11-23T11:00:00+01:00' });

    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(requests(known), async (req) => {
        const before = await rowCounts(f.sql);
        const res = await t.app.inject(req);
        const what = `${req.method} ${req.url} ${JSON.stringify(req.headers)} ${String(req.payload).slice(0, 300)}\n→ ${res.statusCode} ${res.body.slice(0, 300)}`;
        expect(res.statusCode, what).toBeLessThan(500);
        expect(res.statusCode < 300 || res.statusCode >= 400, `a 2xx or a 4xx: ${what}`).toBe(true);
        if (res.statusCode >= 400) {
          expect(res.headers['content-type'], what).toContain('application/problem+json');
          const problem = res.json() as { code: string; status: number };
          expect(Object.keys(CONTRACT_CODES), what).toContain(problem.code);
          expect(res.statusCode, what).toBe(CONTRACT_CODES[problem.code]);
          expect(problem.status, what).toBe(res.statusCode);
          expect(await rowCounts(f.sql), `wrote something although refused: ${what}`).toEqual(before);
          seen.add(problem.code);
        } else {
          expect(res.statusCode, what).toBeGreaterThanOrEqual(200);
          expect(res.headers['content-type'], what).toContain('application/json');
          seen.add(String(res.statusCode));
        }
      }),
      {
        numRuns: RUNS,
        // Always among the runs: one booking and one status view that must succeed.
        examples: [
          [
            {
              method: 'POST',
              url: '/v1/callbacks',
              payload: {
                domain: 'logement',
                phone: '06 19 99 99 99',
                mode: 'slot',
                slotStart: '2026-11-23T11:30:00+01:00',
                consent: true,
              },
            },
          ],
          [
            {
              method: 'GET',
              url: `/v1/callbacks/${known.reference}`,
              headers: { 'x-cancel-token': known.cancelToken },
            },
          ],
        ],
      },
    );
    // The generators reach past the schema: successes and business refusals were both exercised.
    expect([...seen]).toEqual(
      expect.arrayContaining(['200', '201', 'VALIDATION_ERROR', 'NOT_FOUND', 'INVALID_PHONE']),
    );
    expect(seen.size, [...seen].join(' ')).toBeGreaterThanOrEqual(8);
  }, 120_000);
});
