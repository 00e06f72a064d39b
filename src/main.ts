import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger, loggableError } from './logger.js';
import { createRuntime, type Runtime } from './runtime.js';
import { buildApp, type Lifecycle } from './app.js';
import { startWorkers, type Workers } from './jobs/runner.js';
import { startMetricsServer } from './metrics-server.js';

/**
 * Process entry shared by server.ts and worker.ts: reads the config, builds what APP_ROLE asks
 * for, and on SIGTERM/SIGINT/SIGHUP drains (an API process), stops accepting, finishes in-flight requests and jobs, then closes
 * workers, queues, pool and the embedded database, within SHUTDOWN_TIMEOUT_MS.
 */
export async function main(defaultRole: Config['role']): Promise<void> {
  let config: Config;
  try {
    config = loadConfig({ APP_ROLE: defaultRole, ...process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`rappel: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  process.on('unhandledRejection', (reason) => {
    log.error(
      { err: reason instanceof Error ? { message: reason.message, stack: reason.stack } : String(reason) },
      'unhandled rejection',
    );
  });

  let rt: Runtime | null = null;
  let app: FastifyInstance | null = null;
  let workers: Workers | null = null;
  let metrics: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
  let stopping = false;
  const lifecycle: Lifecycle = { draining: false };

  /** Starts what APP_ROLE asks for; a stop asked meanwhile ends it at the next step. */
  const start = async () => {
    // Its embedded database gone (stopped by hand, killed), a process would stay up answering
    // 503 to everything, and a supervisor would never restart it: it stops, exit code 1.
    rt = await createRuntime(config, log, { onDatabaseLost: () => void shutdown('database lost', 1) });
    if (stopping) return;
    if (config.role === 'worker' || config.role === 'all') workers = await startWorkers(rt);
    if (stopping) return;
    if (config.role === 'worker' && config.metricsPort !== null) {
      const { opsView } = rt.services;
      metrics = await startMetricsServer(() => opsView.metrics(), config.host, config.metricsPort, log);
      log.info({ port: metrics.port }, 'worker metrics on GET /metrics');
    }
    if (stopping) return;
    if (config.role === 'api' || config.role === 'all') {
      app = await buildApp({
        config,
        log,
        health: rt.health,
        services: rt.services,
        opsToken: rt.opsToken,
        lifecycle,
      });
      if (stopping) return;
      await app.listen({ port: config.port, host: config.host });
    }
    log.info(
      { role: config.role, queue: rt.queueBackend.kind, embedded: config.databaseUrl === null },
      'rappel started',
    );
  };

  /** Closes what was started, once: requests, then jobs, then the runtime (the embedded database last). */
  let closing: Promise<void> | null = null;
  const closeAll = () =>
    (closing ??= (async () => {
      if (app) await app.close();
      if (metrics) await metrics.close();
      if (workers) await workers.close();
      if (rt) await rt.close();
    })());

  /**
   * A hangup is raised again with its default action once stopped: exiting normally after the
   * terminal is gone makes Node abort while restoring it (nodejs/node#51519).
   */
  const exit = (code: number, signal?: string) => {
    if (signal === 'SIGHUP') {
      process.removeAllListeners('SIGHUP');
      process.kill(process.pid, 'SIGHUP');
    }
    process.exit(code);
  };

  // Signals are handled from the next tick on, so the handlers below, installed in this one,
  // are there for the whole start: a stop during it waits for the step under way.
  const started = start().then(
    () => true,
    async (err: unknown) => {
      log.error({ err: loggableError(err) }, 'start failed');
      await closeAll().catch((e: unknown) =>
        log.error({ err: loggableError(e) }, 'error while closing after a failed start'),
      );
      exit(1);
      return false;
    },
  );

  /**
   * Before it stops listening, an API process goes on accepting and answering for
   * SHUTDOWN_DRAIN_MS, `/readyz` answering 503 and every answer closing its connection: the
   * connections waiting to be accepted when the signal came (the kernel resets them when the
   * listening socket closes) and the requests a load balancer still sends are answered, not
   * reset. Requests after that get the 503 of the stop (app.ts).
   */
  const drain = async () => {
    // Not a server that never listened (a stop during the start).
    const server = app?.server;
    if (!server?.listening || config.shutdownDrainMs === 0) return;
    lifecycle.draining = true;
    log.info({ drainMs: config.shutdownDrainMs }, 'draining');
    await new Promise((resolve) => setTimeout(resolve, config.shutdownDrainMs));
  };

  const shutdown = async (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    // A stop during the start waits for the step under way (the embedded database may be
    // starting): stopping before it would leave that step's work running behind the process.
    if (!(await started)) return;
    try {
      await drain();
      await closeAll();
      log.info('stopped');
      clearTimeout(timer);
      exit(code, signal);
    } catch (err) {
      log.error({ err: loggableError(err) }, 'error during shutdown');
      exit(1);
    }
  };
  // `on`, not `once`: the same signal often comes twice (npm start forwards what the process
  // group already received, on Ctrl-C or a systemd stop), and a second one left to Node's
  // default handler killed the process in the middle of its graceful stop.
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A closed terminal: Node's default would die at once, leaving the embedded database running.
  process.on('SIGHUP', () => void shutdown('SIGHUP'));

  await started;
}
