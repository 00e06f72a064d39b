import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppDeps } from '../../app.js';
import { AUTH, DomainCode, errors, InstantString, WindowSchema, AGENT } from '../schemas/common.js';
import { ReferenceParams, CallbackStatusSchema, StoredOutcome } from '../schemas/callbacks.js';
import { agentByToken } from '../auth.js';
import { agentErrorHandler } from './agents.js';

const DeskCallbackSchema = Type.Object(
  {
    reference: Type.String(),
    status: CallbackStatusSchema,
    phone: Type.String({ description: 'Numéro complet (E.164), pour appeler' }),
    domain: DomainCode,
    ficheId: Type.Union([Type.String(), Type.Null()]),
    subject: Type.Union([Type.String(), Type.Null()]),
    window: WindowSchema,
    attempts: Type.Integer(),
    outcome: StoredOutcome,
    redirectedTo: Type.Union([Type.String(), Type.Null()]),
    nextAttemptAt: Type.Union([InstantString, Type.Null()]),
  },
  { $id: 'DeskCallback' },
);

export function deskRoutes(deps: AppDeps): FastifyPluginAsync {
  const { dispatch } = deps.services;
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.addSchema(DeskCallbackSchema);

    app.post(
      '/v1/agents/me/next',
      {
        schema: {
          tags: ['agents'],
          operationId: 'pullNext',
          summary: 'Prendre le rappel suivant (ou retrouver celui en cours) ; 204 si rien n’est dû',
          security: AGENT,
          response: {
            200: Type.Ref('DeskCallback', { description: 'Le rappel attribué à cet informateur' }),
            204: Type.Null({ description: 'Rien à rappeler maintenant dans ses domaines' }),
            ...errors(AUTH),
          },
        },
        errorHandler: agentErrorHandler(deps),
      },
      async (req, reply) => {
        const c = await dispatch.pullNext(agentByToken(req, deps.opsToken));
        return c ? c : reply.code(204).send(null);
      },
    );

    app.post(
      '/v1/callbacks/:reference/outcome',
      {
        schema: {
          tags: ['agents'],
          operationId: 'reportOutcome',
          summary: "Résultat de l'appel, par l'informateur à qui le rappel est attribué",
          description:
            "403 pour un rappel qui n'a jamais été attribué à cet informateur, quel que soit son état ; " +
            "409 INVALID_TRANSITION, avec son état (callbackStatus), pour un rappel qu'il a eu et qui n'est plus sur son poste " +
            '(résultat déjà donné, passage hors ligne, délai dépassé) tant que personne d’autre ne le tient.',
          security: AGENT,
          params: ReferenceParams,
          body: Type.Object(
            {
              outcome: Type.Union([
                Type.Literal('reached'),
                Type.Literal('no_answer'),
                Type.Literal('wrong_number'),
                Type.Literal('redirected'),
              ]),
              redirectedTo: Type.Optional(
                Type.String({
                  maxLength: 300,
                  description:
                    'Vers qui le citoyen a été réorienté, avec « redirected » (facultatif) ; refusé avec un autre résultat',
                }),
              ),
              note: Type.Optional(Type.String({ maxLength: 2000 })),
            },
            {
              additionalProperties: false,
              // Swagger UI's generated body put redirectedTo beside « reached »: refused (400).
              examples: [
                { outcome: 'reached', note: 'Préavis de démission expliqué.' },
                {
                  outcome: 'redirected',
                  redirectedTo: 'Agence départementale pour l’information sur le logement',
                },
              ],
            },
          ),
          response: {
            200: Type.Ref('DeskCallback', { description: 'Le rappel après le résultat' }),
            ...errors(AUTH, 'NOT_FOUND', 'INVALID_TRANSITION'),
          },
        },
        errorHandler: agentErrorHandler(deps),
      },
      async (req) => {
        return dispatch.reportOutcome(
          agentByToken(req, deps.opsToken),
          req.params.reference,
          req.body.outcome,
          req.body.redirectedTo,
          req.body.note,
        );
      },
    );
  };
}
