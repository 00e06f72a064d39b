/**
 * In-process metrics in the Prometheus text format (each process exposes its own counters, as
 * Prometheus expects); queue gauges are read from PostgreSQL at scrape time.
 */
const LATENCY_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800];

export interface DispatchMetrics {
  observeDispatch(latencyMs: number): void;
  countOutcome(domain: string, outcome: string): void;
  render(): string;
}

export function createDispatchMetrics(): DispatchMetrics {
  const buckets = new Array<number>(LATENCY_BUCKETS_S.length).fill(0);
  let count = 0;
  let sum = 0;
  const outcomes = new Map<string, number>();
  return {
    observeDispatch(latencyMs) {
      const s = Math.max(0, latencyMs) / 1000;
      count++;
      sum += s;
      LATENCY_BUCKETS_S.forEach((b, i) => {
        if (s <= b) buckets[i]!++;
      });
    },
    countOutcome(domain, outcome) {
      const key = `${domain}\u0000${outcome}`;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    },
    render() {
      const lines = [
        '# HELP rappel_dispatch_latency_seconds From a callback being due to it being on a desk.',
        '# TYPE rappel_dispatch_latency_seconds histogram',
        ...LATENCY_BUCKETS_S.map((b, i) => `rappel_dispatch_latency_seconds_bucket{le="${b}"} ${buckets[i]}`),
        `rappel_dispatch_latency_seconds_bucket{le="+Inf"} ${count}`,
        `rappel_dispatch_latency_seconds_sum ${sum}`,
        `rappel_dispatch_latency_seconds_count ${count}`,
        '# HELP rappel_outcomes_total Call outcomes reported by informateurs (this process).',
        '# TYPE rappel_outcomes_total counter',
      ];
      for (const [key, n] of outcomes) {
        const [domain, outcome] = key.split('\u0000');
        lines.push(`rappel_outcomes_total{domain="${domain}",outcome="${outcome}"} ${n}`);
      }
      return lines.join('\n') + '\n';
    },
  };
}
