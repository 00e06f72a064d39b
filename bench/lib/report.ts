import type { DispatchResult } from './dispatch-latency.js';
import type { IntakeResult, PullResult, SlotsResult } from './phases.js';
import { TARGETS } from './settings.js';
import { ratio, type LoadResult } from './stats.js';

export interface Results {
  slots: SlotsResult;
  intake: { small: IntakeResult; scale: IntakeResult | null };
  pull: { small: PullResult; scale: PullResult | null };
  dispatch: DispatchResult;
  memory: { apiPeakMb: number | null; workerPeakMb: number | null; byPhaseMb: Record<string, number> };
}

export interface Verdict {
  target: string;
  measured: string;
  /** null: not measured in this run (smoke skips the scale phase). */
  pass: boolean | null;
}

export interface Row {
  scenario: string;
  rappel: string;
  reference: string;
  ratio: string;
  target: string;
  verdict: string;
}

const ms = (x: number) => (Number.isFinite(x) ? `${x < 10 ? x.toFixed(1) : Math.round(x)} ms` : 'n/a');
const rps = (x: number) => `${Math.round(x)}/s`;
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)} %` : 'n/a');
const lat = (r: LoadResult) => `p50 ${ms(r.latency.p50)} · p99 ${ms(r.latency.p99)}`;
const errs = (r: LoadResult) => {
  const bad = r.total - r.ok + r.errors + r.timeouts;
  return bad > 0 ? ` · ${bad} not 2xx` : '';
};
const cpu = (r: LoadResult, who: string) => {
  const x = r.cpuMsPerRequest?.[who];
  return x === undefined ? '' : ` · ${who} CPU ${x < 1 ? x.toFixed(2) : x.toFixed(1)} ms/req`;
};
const word = (p: boolean | null) => (p === null ? 'not run' : p ? 'PASS' : 'FAIL');

const pullRate = (p: PullResult) => p.service.byKind?.pull?.okPerS ?? 0;
/** Each round's ratio (when there were rounds), to show how much the machine moved during the run. */
function roundsText(pairs: [number, number][]): string {
  return pairs.length < 2 ? '' : ` · rounds ${pairs.map(([a, b]) => pct(ratio(a, b))).join(', ')}`;
}
/** Pull next's rounds, against the pool size that made the ceiling. */
function pullRounds(p: PullResult): [number, number][] {
  const best = Object.entries(p.ceilings).find(([, c]) => c.claimsPerS === p.best.claimsPerS)?.[0];
  return best ? (p.rounds ?? []).map((r) => [r.service, r.ceilings[best] ?? 0]) : [];
}
const pairsOf = (rounds: { service: number; ceiling: number }[] | undefined): [number, number][] =>
  (rounds ?? []).map((r) => [r.service, r.ceiling]);
/** Each round's p99, service / ceiling (when there were rounds). */
function p99RoundsText(rounds: { service: number; ceiling: number }[] | undefined): string {
  return (rounds ?? []).length < 2
    ? ''
    : ` · p99 by round ${rounds!.map((r) => `${Math.round(r.service)}/${Math.round(r.ceiling)}`).join(', ')} ms`;
}
const pullP99 = (p: PullResult) => p.service.byKind?.pull?.p99 ?? NaN;

/** Every target of the issue with what was measured, and the table printed and saved. */
export function evaluate(r: Results): { verdicts: Verdict[]; rows: Row[] } {
  const verdicts: Verdict[] = [];
  const rows: Row[] = [];
  const add = (row: Omit<Row, 'verdict'>, pass: boolean | null) => {
    rows.push({ ...row, verdict: word(pass) });
    if (row.target !== '')
      verdicts.push({ target: `${row.scenario}: ${row.target}`, measured: row.ratio || row.rappel, pass });
  };
  const i = r.intake.small;
  const iRatio = ratio(i.saturation.okPerS, i.ceiling.okPerS);
  add(
    {
      scenario: 'Intake, saturation',
      rappel: `${rps(i.saturation.okPerS)} · ${lat(i.saturation)}${errs(i.saturation)}${cpu(i.saturation, 'api')}${cpu(i.saturation, 'postgres')}`,
      reference: `bare Fastify + pg tx: ${rps(i.ceiling.okPerS)} · ${lat(i.ceiling)}${cpu(i.ceiling, 'ceiling')}${cpu(i.ceiling, 'postgres')}${roundsText(pairsOf(i.rounds))}`,
      ratio: pct(iRatio),
      target: `≥ ${pct(TARGETS.intakeRatio)} of ceiling`,
    },
    iRatio >= TARGETS.intakeRatio,
  );
  const f = i.fixedRate;
  add(
    {
      scenario: `Intake, ${Math.round(f.offeredPerS ?? NaN)} req/s offered`,
      rappel: `${rps(f.okPerS)} ok · ${lat(f)}${errs(f)}${cpu(f, 'api')}${cpu(f, 'postgres')}${p99RoundsText(i.fixedRateP99Rounds)}`,
      reference: `bare Fastify + pg tx, same offered load: ${rps(i.fixedRateCeiling.okPerS)} ok · ${lat(i.fixedRateCeiling)}${errs(i.fixedRateCeiling)}${cpu(i.fixedRateCeiling, 'ceiling')}${cpu(i.fixedRateCeiling, 'postgres')} · the offered load is ${pct(ratio(f.offeredPerS ?? NaN, i.ceiling.okPerS))} of its saturated rate`,
      ratio: '',
      target: `p99 ≤ ${TARGETS.intakeP99At500Ms} ms`,
    },
    f.latency.p99 <= TARGETS.intakeP99At500Ms && f.ok === f.total,
  );
  const s = r.slots;
  const sRatio = ratio(s.service.okPerS, s.ceiling.okPerS);
  add(
    {
      scenario: `Slot listing (${Math.round(s.bodyBytes / 1024)} kB)`,
      rappel: `${rps(s.service.okPerS)} · ${lat(s.service)}${errs(s.service)}${cpu(s.service, 'api')}`,
      reference: `constant JSON: ${rps(s.ceiling.okPerS)} · ${lat(s.ceiling)}${cpu(s.ceiling, 'ceiling')}${roundsText(pairsOf(s.rounds))}`,
      ratio: pct(sRatio),
      target: `≥ ${pct(TARGETS.slotsRatio)} of ceiling`,
    },
    sRatio >= TARGETS.slotsRatio,
  );
  const p = r.pull.small;
  const pRatio = ratio(pullRate(p), p.best.claimsPerS);
  add(
    {
      scenario: 'Pull next, claims',
      rappel: `${rps(pullRate(p))} claims · outcome p99 ${ms(p.service.byKind?.outcome?.p99 ?? NaN)}${errs(p.service)}${cpu(p.service, 'api')}${cpu(p.service, 'worker')}${cpu(p.service, 'postgres')}`,
      reference: `raw claim: ${rps(p.best.claimsPerS)} · p99 ${ms(p.best.latency.p99)}${roundsText(pullRounds(p))}`,
      ratio: pct(pRatio),
      target: `≥ ${pct(TARGETS.pullRatio)} of ceiling`,
    },
    pRatio >= TARGETS.pullRatio,
  );
  add(
    {
      scenario: 'Pull next, latency, informateurs looping without pause',
      rappel: `p50 ${ms(p.service.byKind?.pull?.p50 ?? NaN)} · p99 ${ms(pullP99(p))}`,
      // The claim statement alone, in as many closed loops: queueing behind the other loops (Little's law) is in it too.
      reference: `raw claim statement, same loops: p50 ${ms(p.best.latency.p50)} · p99 ${ms(p.best.latency.p99)}`,
      ratio: '',
      target: `p99 ≤ ${TARGETS.pullP99Ms} ms`,
    },
    pullP99(p) <= TARGETS.pullP99Ms,
  );
  const pp = r.pull.small.paced;
  if (pp) {
    const pace = pp.byKind?.pull;
    add(
      {
        scenario: 'Pull next, latency, informateurs pausing between calls',
        rappel: `${rps(pace?.okPerS ?? 0)} claims · p50 ${ms(pace?.p50 ?? NaN)} · p99 ${ms(pace?.p99 ?? NaN)} · outcome p99 ${ms(pp.byKind?.outcome?.p99 ?? NaN)}${errs(pp)}`,
        reference: `${ratio(pace?.okPerS ?? 0, pullRate(p)) > 0 ? pct(ratio(pace?.okPerS ?? 0, pullRate(p))) : '?'} of the saturated rate`,
        ratio: '',
        target: `p99 ≤ ${TARGETS.pullP99Ms} ms`,
      },
      (pace?.p99 ?? NaN) <= TARGETS.pullP99Ms,
    );
  }
  const is = r.intake.scale;
  const isRatio = is ? ratio(is.saturation.okPerS, i.saturation.okPerS) : NaN;
  add(
    {
      scenario: 'Intake at 1M callbacks',
      rappel: is
        ? `${rps(is.saturation.okPerS)} · ${lat(is.saturation)} (ceiling ${rps(is.ceiling.okPerS)})`
        : 'skipped',
      reference: `small tables: ${rps(i.saturation.okPerS)}`,
      ratio: pct(isRatio),
      target: `≥ ${pct(TARGETS.scaleKeep)} of small`,
    },
    is ? isRatio >= TARGETS.scaleKeep : null,
  );
  const ps = r.pull.scale;
  const psRatio = ps ? ratio(pullRate(ps), pullRate(p)) : NaN;
  add(
    {
      scenario: 'Pull next at 1M callbacks',
      rappel: ps
        ? `${rps(pullRate(ps))} claims · p99 ${ms(pullP99(ps))} (raw ${rps(ps.best.claimsPerS)})`
        : 'skipped',
      reference: `small tables: ${rps(pullRate(p))}`,
      ratio: pct(psRatio),
      target: `≥ ${pct(TARGETS.scaleKeep)} of small`,
    },
    ps ? psRatio >= TARGETS.scaleKeep : null,
  );
  const d = r.dispatch;
  add(
    {
      scenario: 'Dispatch latency (due → desk)',
      rappel: `p50 ${ms(d.all.p50)} · p99 ${ms(d.all.p99)} (slot burst p99 ${ms(d.slotBurst.latency.p99)}, asap p99 ${ms(d.asap.latency.p99)})`,
      reference: `${d.slotBurst.assigned}/${d.slotBurst.sent} slot, ${d.asap.assigned}/${d.asap.sent} asap assigned`,
      ratio: '',
      target: `p99 ≤ ${TARGETS.dispatchP99Ms / 1000} s`,
    },
    d.all.p99 <= TARGETS.dispatchP99Ms &&
      d.slotBurst.assigned === d.slotBurst.sent &&
      d.asap.assigned === d.asap.sent,
  );
  const m = r.memory;
  add(
    {
      scenario: 'API peak RSS',
      rappel: `${m.apiPeakMb ?? '?'} MB`,
      reference: `worker: ${m.workerPeakMb ?? '?'} MB`,
      ratio: '',
      target: `≤ ${TARGETS.apiRssMb} MB`,
    },
    m.apiPeakMb !== null && m.apiPeakMb <= TARGETS.apiRssMb,
  );
  return { verdicts, rows };
}

/** Where the service's PostgreSQL connections spent the saturating loads (top shares). */
export function waitsSummary(r: Results): string[] {
  const top = (w: Record<string, number> | undefined) =>
    Object.entries(w ?? {})
      .slice(0, 4)
      .map(([k, x]) => `${k} ${Math.round(x * 100)} %`)
      .join(', ');
  return [
    '',
    "Busy PostgreSQL connections of the service during the load, sampled (`CPU` = running; `ClientRead in transaction` = waiting for Rappel's next statement):",
    '',
    `- intake: ${top(r.intake.small.saturation.dbWaits)}`,
    `- slot listing: ${top(r.slots.service.dbWaits)}`,
    `- pull next: ${top(r.pull.small.service.dbWaits)}`,
  ];
}

/**
 * WAL the cluster wrote per request of the saturating loads, warm-up included (the load under
 * test, and the service worker's periodic jobs), and how much of it was whole pages: each phase
 * starts right after a checkpoint, so the first change to each page writes all of it.
 */
export function walSummary(r: Results): string[] {
  const w = (x: LoadResult | undefined) => {
    const kB = x?.walPerRequest?.kB;
    const whole = x?.walPerRequest?.wholePagesKB;
    if (kB === undefined) return 'n/a';
    return `${kB.toFixed(1)} kB${whole === undefined ? '' : ` (${whole.toFixed(1)} kB of whole pages)`}`;
  };
  const scale = (x: LoadResult | undefined, y: LoadResult | undefined, label: string) =>
    x ? `; at 1M callbacks ${w(x)}${y ? `, ${label} ${w(y)}` : ''}` : '';
  const { small: intake, scale: intakeScale } = r.intake;
  const { small: pull, scale: pullScale } = r.pull;
  return [
    '',
    'WAL written per request (whole cluster, warm-up included):',
    '',
    `- intake: ${w(intake.saturation)}, ceiling ${w(intake.ceiling)}${scale(intakeScale?.saturation, intakeScale?.ceiling, 'ceiling')}`,
    `- pull next (a pull or an outcome): ${w(pull.service)}${scale(pullScale?.service, undefined, '')}`,
  ];
}

export function markdown(
  rows: Row[],
  machine: Record<string, unknown>,
  smoke: boolean,
  note = '',
  extra: string[] = [],
): string {
  const head = ['Scenario', 'Rappel', 'Ceiling / baseline', 'Ratio', 'Target', 'Verdict'];
  const line = (cells: string[]) => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [
    `# Rappel benchmark${smoke ? ' (smoke: tiny durations, numbers meaningless)' : ''}`,
    '',
    `${String(machine.date)} · ${String(machine.nproc)} cores · Node ${String(machine.node)} · PostgreSQL ${String(machine.postgres)} · ${String(machine.cpu)}`,
    '',
    ...(note ? [note, ''] : []),
    line(head),
    line(head.map(() => '---')),
    ...rows.map((r) => line([r.scenario, r.rappel, r.reference, r.ratio, r.target, r.verdict])),
    ...extra,
    '',
  ].join('\n');
}
