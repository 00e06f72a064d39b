import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppDeps } from '../../app.js';
import {
  AUTH,
  DateString,
  errors,
  InstantString,
  WindowSchema,
  OPS,
  PATTERNS,
  described,
} from '../schemas/common.js';
import { opsGuard } from '../auth.js';
import { emptyFiltersAreAbsent } from '../query.js';

const HHmm = Type.String({ pattern: PATTERNS.time.pattern, description: 'Heure locale HH:mm' });
const ClosureSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    date: DateString,
    start: Type.Union([HHmm, Type.Null()]),
    end: Type.Union([HHmm, Type.Null()]),
    reason: Type.String(),
  },
  { $id: 'Closure' },
);

export function closureRoutes(deps: AppDeps): FastifyPluginAsync {
  const { closures } = deps.services;
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.addSchema(ClosureSchema);
    const ops = opsGuard(deps.opsToken, deps.services.agents);

    app.get(
      '/v1/closures',
      {
        onRequest: ops,
        preValidation: emptyFiltersAreAbsent,
        schema: {
          tags: ['ops'],
          operationId: 'listClosures',
          summary: 'Fermetures exceptionnelles à venir (ou depuis « from »)',
          security: OPS,
          querystring: Type.Object({ from: Type.Optional(DateString) }, { additionalProperties: false }),
          response: {
            200: Type.Array(Type.Ref('Closure'), { description: 'Les fermetures, par date' }),
            ...errors(AUTH),
          },
        },
      },
      async (req) => closures.list(req.query.from),
    );

    app.post(
      '/v1/closures',
      {
        onRequest: ops,
        schema: {
          tags: ['ops'],
          operationId: 'createClosure',
          summary: 'Fermer le centre (journée entière ou plage horaire)',
          description:
            'Refusée (409 CLOSURE_HAS_BOOKINGS) si des rappels sont prévus pendant la fermeture, ou sur des créneaux qu’elle décale (une fermeture finissant entre deux débuts de créneau fait recommencer le découpage à sa fin), sauf avec moveBookings qui les déplace. Les nouvelles tentatives prévues pendant la fermeture sont reportées à la réouverture (retriesMoved).',
          security: OPS,
          body: Type.Object(
            {
              date: DateString,
              reason: Type.String({
                minLength: 1,
                maxLength: 200,
                pattern: PATTERNS.notBlank.pattern,
                examples: ['Formation des informateurs'],
              }),
              start: Type.Optional({ ...HHmm, examples: ['12:00'] }),
              end: Type.Optional({ ...HHmm, examples: ['14:00'] }),
              moveBookings: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
          response: {
            201: described(
              'Fermeture créée ; moved, notMoved, retriesMoved et asapWaiting disent ce qu’elle a fait des rappels prévus',
              Type.Object({
                ...ClosureSchema.properties,
                moved: Type.Array(
                  Type.Object({ reference: Type.String(), from: WindowSchema, to: WindowSchema }),
                ),
                notMoved: Type.Array(Type.String(), {
                  description:
                    'Rappels non déplaçables (créneau : pas de place dans l’horizon ; nouvelle tentative : aucune ouverture) : laissés en place',
                }),
                retriesMoved: Type.Array(
                  Type.Object({ reference: Type.String(), from: InstantString, to: InstantString }),
                  {
                    description:
                      'Nouvelles tentatives (après un appel sans réponse) prévues pendant la fermeture : reportées à la réouverture',
                  },
                ),
                asapWaiting: Type.Array(Type.String(), {
                  description:
                    'Rappels « dès que possible » en file dont la promesse (fenêtre) croise la fermeture : ni déplacés ni annulés, ils restent en tête de file, mais leur promesse risque de ne pas être tenue',
                }),
              }),
            ),
            ...errors(AUTH, 'CLOSURE_HAS_BOOKINGS'),
          },
        },
      },
      async (req, reply) => reply.code(201).send(await closures.create(req.body)),
    );

    app.delete(
      '/v1/closures/:id',
      {
        onRequest: ops,
        schema: {
          tags: ['ops'],
          operationId: 'deleteClosure',
          summary: 'Supprimer une fermeture',
          security: OPS,
          description:
            'Les créneaux du jour sont recoupés sans elle : les rappels pris sur des créneaux qu’elle avait décalés (fermeture finissant entre deux débuts de créneau) sont déplacés vers les créneaux libres suivants (historique de chaque rappel). Une fermeture entièrement passée est conservée (409 INVALID_TRANSITION) : elle fait partie des horaires publiés des jours concernés. Une fermeture en cours est supprimée entière : le centre rouvre aussitôt, et sa partie déjà écoulée est aussi publiée comme ouverte.',
          params: Type.Object({
            id: Type.String({
              maxLength: 64,
              description: 'Identifiant de la fermeture (id de GET /v1/closures)',
            }),
          }),
          response: {
            204: Type.Null({ description: 'Fermeture supprimée' }),
            ...errors(AUTH, 'NOT_FOUND', 'INVALID_TRANSITION'),
          },
        },
      },
      async (req, reply) => {
        await closures.remove(req.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
