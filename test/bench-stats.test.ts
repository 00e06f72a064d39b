import { describe, expect, it } from 'vitest';
import { mergeLoadRounds, summarize, type LoadResult } from '../bench/lib/stats.js';

/** One round of a load generator's result, as bench/open-loop.ts or bench/load.ts return it. */
function roundOf(samples: number[], extra: Partial<LoadResult> = {}): LoadResult {
  return {
    durationS: 4,
    total: samples.length,
    ok: samples.length,
    okPerS: samples.length / 4,
    errors: 0,
    timeouts: 0,
    statuses: { '201': samples.length },
    latency: summarize(samples),
    sentWithWarmup: samples.length,
    cpuMsPerRequest: { api: 1 },
    ...extra,
  };
}

describe('bench: merging the rounds of a measurement', () => {
  it('keeps the offered rate of open-loop rounds, over the whole measured time', () => {
    const a = [1, 2, 3];
    const b = [10, 20, 30, 40];
    const merged = mergeLoadRounds(
      [roundOf(a, { offeredPerS: 500 }), roundOf(b, { offeredPerS: 480, durationS: 2 })],
      [{ intake: a }, { intake: b }],
    );
    expect(merged.offeredPerS).toBe(Math.round(((500 * 4 + 480 * 2) / 6) * 100) / 100);
    expect(merged.durationS).toBe(6);
    expect(merged.latency).toEqual(summarize([...a, ...b]));
  });

  it('gives no offered rate to closed-loop rounds', () => {
    const merged = mergeLoadRounds([roundOf([1]), roundOf([2])], [{ intake: [1] }, { intake: [2] }]);
    expect(merged).not.toHaveProperty('offeredPerS');
  });
});
