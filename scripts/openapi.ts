/**
 * Writes openapi/openapi.json from the route schemas. The app is built without connecting to
 * anything: no request is served, only the schemas are read.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { buildApp } from '../src/app.js';
import { createPool } from '../src/db/pool.js';
import { createKysely } from '../src/db/kysely.js';
import { createServices } from '../src/services/index.js';
import { systemClock } from '../src/clock.js';
import type { QueueHandle } from '../src/queue/connection.js';

const log = pino({ level: 'silent' });
const config = loadConfig({
  NODE_ENV: 'development',
  DATABASE_URL: 'postgres://openapi@127.0.0.1:1/none',
  OPS_API_TOKEN: 'openapi-generation-only',
});
const pool = createPool(config.databaseUrl!, log, { max: 1 });
const unused = (): never => {
  throw new Error('the OpenAPI generator serves no request');
};
const queue = new Proxy({}, { get: () => unused }) as QueueHandle;
const services = createServices({ config, clock: systemClock(), log, db: createKysely(pool), queue });
const app = await buildApp({ config, log, services, opsToken: 'unused', health: { check: unused } });
await app.ready();
const out = path.resolve(import.meta.dirname, '../openapi/openapi.json');
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(app.swagger(), null, 2) + '\n');
await app.close();
await pool.end();
console.log(`wrote ${path.relative(process.cwd(), out)}`);
