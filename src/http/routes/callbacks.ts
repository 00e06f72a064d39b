import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AppDeps } from '../../app.js';
import { AUTH, errors, OPS, PATTERNS } from '../schemas/common.js';
import {
  CitizenCallbackView,
  CreateCallbackBody,
  CreatedCallback,
  ReferenceParams,
} from '../schemas/callbacks.js';
import { AppError } from '../errors.js';
import { bearerToken, opsGuard } from '../auth.js';
import { ipBucket } from '../../services/rate-limiter.js';
import { clientAddress } from '../client-address.js';

const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: PATTERNS.visibleAscii.pattern,
      description:
        'Facultative : la même clé avec le même corps rejoue la première réponse pendant 24 h (réessai sans doublon)',
    }),
  ),
});

export function callbackRoutes(deps: AppDeps): FastifyPluginAsync {
  const { intake, callbackAccess, limiter } = deps.services;
  const ops = opsGuard(deps.opsToken, deps.services.agents);
  const perIp = deps.config.rateLimitPerIpPerMinute;
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.addSchema(CreateCallbackBody);
    app.addSchema(CreatedCallback);
    app.addSchema(CitizenCallbackView);

    app.post(
      '/v1/callbacks',
      {
        schema: {
          tags: ['public'],
          operationId: 'createCallback',
          summary: 'Demander à être rappelé (créneau ou dès que possible)',
          headers: IdempotencyHeaders,
          body: Type.Ref('CallbackRequest'),
          response: {
            201: Type.Ref('CreatedCallback', {
              description: 'Demande enregistrée',
              headers: {
                location: { type: 'string', description: 'Adresse de la demande (GET avec X-Cancel-Token)' },
                'idempotent-replayed': {
                  type: 'string',
                  description:
                    '« true » quand la réponse est celle, rejouée, d’une requête antérieure de même clé',
                },
              },
            }),
            ...errors(
              'INVALID_PHONE',
              'CENTRE_CLOSED',
              'OUTSIDE_OPENING_HOURS',
              'SLOT_NOT_AVAILABLE',
              'IDEMPOTENCY_KEY_REUSED',
              'SLOT_FULL',
              'ASAP_UNAVAILABLE',
              'DUPLICATE_REQUEST',
              'IDEMPOTENCY_KEY_IN_USE',
              'RATE_LIMITED',
            ),
          },
        },
        // Counted before anything else, so floods of malformed requests are limited too.
        onRequest: async (req) => {
          if (perIp <= 0) return;
          const r = await limiter.hit(`ip:${ipBucket(clientAddress(req))}`, perIp, 60);
          if (!r.allowed) {
            // The wait said in the detail is the one Retry-After gives (a page may show either).
            throw new AppError(
              'RATE_LIMITED',
              `Trop de demandes depuis cette adresse. Réessayez dans ${r.retryAfterSeconds} seconde${r.retryAfterSeconds > 1 ? 's' : ''}.`,
              { reason: 'ip' },
              { 'retry-after': String(r.retryAfterSeconds) },
            );
          }
        },
      },
      async (req, reply) => {
        const body = req.body as Static<typeof CreateCallbackBody>;
        if (body.mode === 'slot' && body.slotStart === undefined) {
          throw new AppError('VALIDATION_ERROR', 'Le champ « slotStart » est obligatoire en mode « slot ».');
        }
        const result = await intake.create(body, req.headers['idempotency-key']);
        if (result.replayed) reply.header('idempotent-replayed', 'true');
        // Where the citizen's page reads the callback again (with its X-Cancel-Token).
        reply.header('location', `/v1/callbacks/${result.body.reference}`);
        return reply.code(result.status as 201).send(result.body);
      },
    );

    app.get(
      '/v1/callbacks/:reference',
      {
        schema: {
          tags: ['public', 'ops'],
          operationId: 'getCallback',
          summary:
            "État d'une demande (citoyen : X-Cancel-Token ; exploitation : jeton d'exploitation, avec l'historique)",
          params: ReferenceParams,
          // No length limit: a token of any length that is not the callback's is wrong, 404 as the
          // contract says (Node bounds the headers' size).
          headers: Type.Object({
            'x-cancel-token': Type.Optional(
              Type.String({ description: 'Jeton d’annulation remis au citoyen à la création (cancelToken)' }),
            ),
          }),
          // Anonymous for citizens, or the ops token: declared, Swagger UI sends it after Authorize.
          security: [{}, ...OPS],
          response: {
            200: Type.Ref('CallbackView', { description: 'La demande (téléphone masqué)' }),
            ...errors(AUTH, 'NOT_FOUND'),
          },
        },
      },
      async (req) => {
        if (bearerToken(req) !== undefined) {
          await ops(req); // 401 for a token nobody holds, 403 for an informateur's (wrong role)
          return callbackAccess.opsStatus(req.params.reference);
        }
        return callbackAccess.citizenStatus(req.params.reference, req.headers['x-cancel-token']);
      },
    );

    app.post(
      '/v1/callbacks/:reference/cancel',
      {
        schema: {
          tags: ['public'],
          operationId: 'cancelCallback',
          summary: 'Annuler une demande de rappel',
          params: ReferenceParams,
          body: Type.Object(
            // No length limit, as X-Cancel-Token: a token that is not the callback's is 404.
            { cancelToken: Type.String({ minLength: 1 }) },
            { additionalProperties: false },
          ),
          response: {
            200: Type.Ref('CallbackView', { description: 'La demande, annulée' }),
            ...errors('NOT_FOUND', 'INVALID_TRANSITION'),
          },
        },
      },
      async (req) => callbackAccess.cancel(req.params.reference, req.body.cancelToken),
    );
  };
}
