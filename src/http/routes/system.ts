import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { AppDeps } from '../../app.js';
import { problems, described } from '../schemas/common.js';
import { sendProblem } from '../error-handler.js';
import { problemOf } from '../errors.js';

const Health = described(
  'État du processus (et de ses dépendances pour /readyz)',
  Type.Object({
    status: Type.String(),
    checks: Type.Optional(Type.Record(Type.String(), Type.String())),
  }),
);

export function systemRoutes(deps: AppDeps): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/healthz',
      {
        schema: {
          tags: ['system'],
          operationId: 'healthz',
          summary: 'Le processus est vivant',
          // 503 only while the process stops (every route answers it then).
          response: { 200: Health, ...problems('SERVICE_UNAVAILABLE') },
        },
      },
      async () => ({ status: 'ok' }),
    );

    app.get(
      '/readyz',
      {
        schema: {
          tags: ['system'],
          operationId: 'readyz',
          summary: 'La base de données et la file de travaux répondent',
          response: { 200: Health, ...problems('SERVICE_UNAVAILABLE') },
        },
      },
      async (_req, reply) => {
        // Stopping: answering still, but a load balancer should send no more.
        if (deps.lifecycle?.draining) {
          return sendProblem(reply, problemOf('SERVICE_UNAVAILABLE', "Le service s'arrête."), {
            'retry-after': '5',
          });
        }
        const checks = await deps.health.check();
        if (Object.values(checks).every((v) => v === 'ok')) return { status: 'ok', checks };
        return sendProblem(
          reply,
          problemOf('SERVICE_UNAVAILABLE', 'Une dépendance du service ne répond pas.', { checks }),
          { 'retry-after': '5' },
        );
      },
    );

    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  };
}
