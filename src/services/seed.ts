import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { listAgents } from '../repositories/agents.js';
import type { Core } from './core.js';
import type { AgentService } from './agents.js';

const DEMO = [
  { displayName: 'Démo — Camille (travail)', domains: ['travail'] },
  { displayName: 'Démo — Karim (travail)', domains: ['travail'] },
  { displayName: 'Démo — Sophie (intérieur)', domains: ['interieur'] },
  { displayName: 'Démo — Julien (justice)', domains: ['justice'] },
  { displayName: 'Démo — Nadia (logement)', domains: ['logement'] },
  { displayName: 'Démo — Marc (justice, logement)', domains: ['justice', 'logement'] },
];

/**
 * SEED_DEMO: with an empty agents table, creates a few demo informateurs so that a fresh
 * `npm start` offers slots at once; their tokens go to <DATA_DIR>/demo-agents.json (never logged).
 */
export async function seedDemo(core: Core, agents: AgentService): Promise<string | null> {
  if ((await listAgents(core.db)).length > 0) return null;
  const created = [];
  for (const d of DEMO) created.push(await agents.create(d.displayName, d.domains));
  const file = path.resolve(core.config.dataDir, 'demo-agents.json');
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(
    file,
    JSON.stringify(
      created.map((a) => ({ id: a.id, displayName: a.displayName, domains: a.domains, token: a.token })),
      null,
      2,
    ) + '\n',
    { mode: 0o600 },
  );
  return file;
}
