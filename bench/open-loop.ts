/**
 * Open-loop load (run in the generator process, bench/generator.ts): offers a fixed rate of
 * slot bookings whatever the service's speed, and counts each request's latency from when it
 * was due to be sent (so a stalled server is not hidden by a stalled client: no coordinated
 * omission). Returns one LoadResult (and writes the raw samples to `samplesPath` if set).
 */
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { intakeBody, summarize, type LoadResult } from './lib/stats.js';
import type { OpenLoopSpec } from './lib/specs.js';

export async function runOpenLoop(spec: OpenLoopSpec): Promise<LoadResult> {
  const url = new URL(spec.url);
  /**
   * At most this many requests outstanding: when the service cannot keep up, a due request that
   * would exceed it is dropped and counted (a citizen's browser would have given up), instead of
   * piling an unbounded backlog onto the service and onto the scenarios that follow.
   */
  const MAX_OUTSTANDING = 256;
  const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_OUTSTANDING });
  const samples: number[] = [];
  /**
   * [when it was due, ms since the run's start (epoch ms at the start: `startedAt`); its latency,
   * null if it failed or timed out], measured requests only.
   */
  const timeline: [number, number | null][] = [];
  const startedAt = Date.now();
  const statuses: Record<string, number> = {};
  let errors = 0;
  let timeouts = 0;
  let inFlight = 0;
  let dropped = 0;
  let phone = spec.phoneBase;

  function send(dueAt: number, measured: boolean): void {
    const i = phone++;
    const body = intakeBody(spec.domain, i, spec.slotStarts[i % spec.slotStarts.length]!);
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    };
    if (spec.idempotencyKeys) headers['idempotency-key'] = `bench-open-${i}`;
    inFlight++;
    const req = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers,
        timeout: 30_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          inFlight--;
          if (!measured) return;
          const latency = performance.now() - dueAt;
          samples.push(latency);
          timeline.push([Math.round(dueAt - start), Math.round(latency * 10) / 10]);
          const k = String(res.statusCode ?? 0);
          statuses[k] = (statuses[k] ?? 0) + 1;
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      inFlight--;
      if (!measured) return;
      timeline.push([Math.round(dueAt - start), null]);
      if (err.message === 'timeout') timeouts++;
      else errors++;
    });
    req.end(body);
  }

  const interval = 1000 / spec.rate;
  const start = performance.now();
  const warmupEnd = start + spec.warmupS * 1000;
  const end = warmupEnd + spec.durationS * 1000;
  let sent = 0;
  let measuredSent = 0;
  // Every millisecond or so, send whatever has come due since the last tick.
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    while (start + sent * interval <= now) {
      const dueAt = start + sent * interval;
      if (dueAt >= end) break;
      const measured = dueAt >= warmupEnd;
      if (measured) measuredSent++;
      if (inFlight < MAX_OUTSTANDING) send(dueAt, measured);
      else if (measured) dropped++;
      sent++;
    }
    await sleep(1);
  }
  const drainDeadline = performance.now() + 15_000;
  while (inFlight > 0 && performance.now() < drainDeadline) await sleep(5);
  agent.destroy();
  if (spec.samplesPath) writeFileSync(spec.samplesPath, JSON.stringify({ intake: samples }));
  // Beside them, when each was due and its latency: for finding when the slow ones came.
  if (spec.samplesPath) {
    if (!spec.samplesPath.endsWith('.samples.json'))
      throw new Error(`samplesPath ${spec.samplesPath}: *.samples.json expected`);
    writeFileSync(
      spec.samplesPath.replace(/\.samples\.json$/, '.timeline.json'),
      JSON.stringify({ startedAt, timeline }),
    );
  }

  const ok = Object.entries(statuses)
    .filter(([k]) => k.startsWith('2'))
    .reduce((a, [, n]) => a + n, 0);
  const result: LoadResult = {
    durationS: spec.durationS,
    total: samples.length + dropped,
    ok,
    okPerS: Math.round((ok / spec.durationS) * 100) / 100,
    errors,
    timeouts,
    statuses: dropped > 0 ? { ...statuses, dropped } : statuses,
    latency: summarize(samples),
    offeredPerS: Math.round((measuredSent / spec.durationS) * 100) / 100,
    sentWithWarmup: sent - dropped,
  };
  return result;
}
