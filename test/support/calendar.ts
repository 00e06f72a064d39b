import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, startTestApp, type TestContext, NO_LIMITS } from './runtime.js';
import { createAgent } from './api.js';

/**
 * A database and an app of the describe block's own, without rate limits, with two
 * informateurs: A (travail, logement) and B (travail), so travail windows hold 2 places and
 * logement ones 1. `set` receives the app once it has started.
 */
export function calendarApp(set: (t: TestContext) => void): void {
  let db: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  let t: TestContext | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    t = await startTestApp(db.url, 'postgres', { env: NO_LIMITS });
    await createAgent(t.app, ['travail', 'logement'], 'A');
    await createAgent(t.app, ['travail'], 'B');
    set(t);
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });
}
