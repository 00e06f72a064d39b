/** `npm run db:migrate`: applies the migrations (embedded database when DATABASE_URL is unset). */
import { ConfigError, loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { createPool } from './pool.js';
import { migrate } from './migrator.js';
import { startEmbeddedPostgres } from './embedded.js';

try {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const embedded = config.databaseUrl === null ? await startEmbeddedPostgres(config.dataDir, log) : null;
  const pool = createPool(config.databaseUrl ?? embedded!.url, log, { max: 2 });
  try {
    const { applied } = await migrate(pool);
    log.info({ applied }, applied.length > 0 ? 'migrations applied' : 'database already up to date');
  } finally {
    await pool.end();
    await embedded?.stop();
  }
} catch (err) {
  console.error(`rappel: ${err instanceof ConfigError ? err.message : (err as Error).message}`);
  process.exitCode = 1;
}
