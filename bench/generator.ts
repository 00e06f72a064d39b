/**
 * The load generator: one process for the whole benchmark run, apart from the orchestrator
 * (run.ts) and from the processes under test. The orchestrator sends it one measurement at a
 * time over IPC ({ id, kind, spec }) and gets { id, result } or { id, error } back. Started
 * once, a measurement does not pay a process start (tsx, autocannon, pg: 0.5–0.7 s each, most
 * of the CI smoke's time).
 *
 * Alone: `node --import tsx bench/generator.ts <name>.spec.json` (from a run's log directory)
 * runs that measurement again and prints its JSON result.
 */
import { readFileSync } from 'node:fs';
import { runClaim } from './claim-ceiling.js';
import { runLoad } from './load.js';
import { runOpenLoop } from './open-loop.js';
import { runPacedPull } from './pull-paced.js';

const RUNNERS = {
  load: runLoad,
  'open-loop': runOpenLoop,
  claim: runClaim,
  'pull-paced': runPacedPull,
} as const;
export type GeneratorKind = keyof typeof RUNNERS;

interface Request {
  id: number;
  kind: GeneratorKind;
  spec: never;
}

const runnerOf = (kind: string) => {
  const r = RUNNERS[kind as GeneratorKind] as ((spec: never) => Promise<unknown>) | undefined;
  if (!r) throw new Error(`unknown measurement kind ${kind}`);
  return r;
};

const [specPath] = process.argv.slice(2);
if (specPath) {
  const { kind, spec } = JSON.parse(readFileSync(specPath, 'utf8')) as Omit<Request, 'id'>;
  console.log(JSON.stringify(await runnerOf(kind)(spec)));
} else if (process.send) {
  // One measurement at a time, in the order they come (the orchestrator waits for each).
  let queue = Promise.resolve();
  process.on('message', (m: Request) => {
    queue = queue.then(async () => {
      try {
        process.send!({ id: m.id, result: await runnerOf(m.kind)(m.spec) });
      } catch (err) {
        process.send!({ id: m.id, error: (err as Error).stack ?? String(err) });
      }
    });
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ ready: true });
} else {
  console.error('usage: node --import tsx bench/generator.ts <name>.spec.json (or started by bench/run.ts)');
  process.exit(2);
}
