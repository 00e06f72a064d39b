import { describe, expect, it, vi } from 'vitest';
import type * as ReferenceModule from '../../src/domain/reference.js';
import { booking, createAgent } from '../support/api.js';
import { book, expectProblem, intakeFixture, postCallback, rowCounts } from './support.js';

/**
 * A drawn reference that exists already fails on callbacks_reference_key: intake draws another
 * (at most 5 draws). The generator is made to repeat itself here, which chance would not do.
 */
const draws = vi.hoisted(() => ({ forced: [] as string[] }));
vi.mock('../../src/domain/reference.js', async (importOriginal) => {
  const real = await importOriginal<typeof ReferenceModule>();
  return {
    ...real,
    makeReference: (rb: (n: number) => Uint8Array) => draws.forced.shift() ?? real.makeReference(rb),
  };
});

const f = intakeFixture();
const TAKEN = 'RAP-777777';

describe('a reference drawn twice', () => {
  it('is drawn again until a free one comes, and the booking goes through', async () => {
    const t = await f.start('redis', { env: { CALLBACKS_PER_AGENT_PER_SLOT: '10' } });
    await createAgent(t.app, ['travail']);
    draws.forced = [TAKEN];
    expect((await book(t.app)).reference).toBe(TAKEN);
    draws.forced = [TAKEN, TAKEN, 'RAP-888888'];
    expect((await book(t.app)).reference).toBe('RAP-888888');
    expect(draws.forced).toEqual([]);
    expect((await rowCounts(f.sql)).callbacks).toBe(2);
  });

  it('gives up after 5 draws with a 503, writing nothing', async () => {
    const t = await f.start('redis', { env: { CALLBACKS_PER_AGENT_PER_SLOT: '10' } });
    await createAgent(t.app, ['travail']);
    draws.forced = [TAKEN];
    await book(t.app);
    const before = await rowCounts(f.sql);
    draws.forced = Array<string>(5).fill(TAKEN);
    const res = await postCallback(t.app, booking());
    expectProblem(res, 'SERVICE_UNAVAILABLE');
    expect(res.headers['retry-after']).toBe('1');
    expect(draws.forced).toEqual([]);
    expect(await rowCounts(f.sql)).toEqual(before);
  });
});
