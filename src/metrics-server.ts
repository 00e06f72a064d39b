import http from 'node:http';
import type { Logger } from 'pino';

/**
 * GET /metrics of a worker process (APP_ROLE=worker with METRICS_PORT): a worker serves no API,
 * yet it makes the pushes, whose dispatch latencies its own histogram holds. Anything else: 404.
 */
export async function startMetricsServer(
  render: () => Promise<string>,
  host: string,
  port: number,
  log: Logger,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    render().then(
      (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
      (err: unknown) => {
        log.warn({ err: { message: (err as Error).message } }, 'metrics: could not render');
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('unavailable\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
