import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppDeps } from '../../app.js';
import {
  AUTH,
  problems,
  DateString,
  DomainCode,
  errors,
  InstantString,
  WindowSchema,
  OPS,
  described,
  WindowsOverCapacity,
} from '../schemas/common.js';
import { CallbackStatusSchema } from '../schemas/callbacks.js';
import { opsGuard } from '../auth.js';
import { emptyFiltersAreAbsent } from '../query.js';

export function opsRoutes(deps: AppDeps): FastifyPluginAsync {
  const { opsView } = deps.services;
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    const ops = opsGuard(deps.opsToken, deps.services.agents);

    app.get(
      '/v1/queue',
      {
        onRequest: ops,
        schema: {
          tags: ['ops'],
          operationId: 'getQueue',
          summary: "File d'attente par domaine",
          security: OPS,
          response: {
            200: described(
              'File par domaine',
              Type.Object({
                windowsOverCapacity: WindowsOverCapacity,
                domains: Type.Array(
                  Type.Object({
                    domain: DomainCode,
                    scheduled: Type.Integer(),
                    queued: Type.Integer(),
                    assigned: Type.Integer(),
                    oldestQueuedAt: Type.Union([InstantString, Type.Null()]),
                    availableInformateurs: Type.Integer({
                      description: 'Informateurs au statut « available », en cours de rappel ou non.',
                    }),
                    onCallInformateurs: Type.Integer({
                      description: 'Informateurs en cours de rappel (un rappel assigné sur leur poste).',
                    }),
                  }),
                ),
              }),
            ),
            ...errors(AUTH),
          },
        },
      },
      async () => opsView.queue(),
    );

    app.get(
      '/v1/callbacks',
      {
        onRequest: ops,
        preValidation: emptyFiltersAreAbsent,
        schema: {
          tags: ['ops'],
          operationId: 'listCallbacks',
          summary: 'Demandes de rappel, les plus récentes d’abord (pagination par curseur)',
          security: OPS,
          querystring: Type.Object(
            {
              status: Type.Optional({ ...CallbackStatusSchema, description: 'État des demandes' }),
              domain: Type.Optional(DomainCode),
              from: Type.Optional(DateString),
              to: Type.Optional(DateString),
              limit: Type.Optional(
                Type.Integer({ minimum: 1, maximum: 200, description: 'Taille de la page (50 par défaut)' }),
              ),
              cursor: Type.Optional(
                Type.String({ maxLength: 200, description: 'nextCursor de la page précédente' }),
              ),
            },
            { additionalProperties: false },
          ),
          response: {
            200: described(
              'Une page de demandes ; nextCursor donne la suivante (null : dernière page)',
              Type.Object({
                items: Type.Array(
                  Type.Object({
                    reference: Type.String(),
                    status: CallbackStatusSchema,
                    domain: DomainCode,
                    mode: Type.String(),
                    window: WindowSchema,
                    attempts: Type.Integer(),
                    phone: Type.String(),
                    createdAt: InstantString,
                  }),
                ),
                nextCursor: Type.Union([Type.String(), Type.Null()]),
              }),
            ),
            ...errors(AUTH),
          },
        },
      },
      async (req) => opsView.list(req.query),
    );

    app.get(
      '/metrics',
      {
        schema: {
          tags: ['system'],
          operationId: 'metrics',
          summary: 'Métriques Prometheus',
          response: {
            200: {
              description: 'Format texte de Prometheus (version 0.0.4)',
              content: { 'text/plain': { schema: Type.String() } },
            },
            ...problems('SERVICE_UNAVAILABLE'),
          },
        },
      },
      async (_req, reply) => reply.type('text/plain; version=0.0.4').send(await opsView.metrics()),
    );
  };
}
