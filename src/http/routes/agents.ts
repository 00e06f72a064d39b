import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppDeps } from '../../app.js';
import {
  AUTH,
  DomainCode,
  errors,
  InstantString,
  OPS,
  AGENT,
  PATTERNS,
  WindowsOverCapacity,
} from '../schemas/common.js';
import { AppError } from '../errors.js';
import { agentToken, opsGuard } from '../auth.js';
import type { AgentRecord } from '../../repositories/agents.js';
import { UNKNOWN_AGENT_TOKEN } from '../../services/outcome.js';

const AgentStatus = Type.Union([Type.Literal('available'), Type.Literal('paused'), Type.Literal('offline')]);
const Domains = Type.Array(DomainCode, { minItems: 1, maxItems: 4, uniqueItems: true });
const AgentSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    displayName: Type.String(),
    domains: Type.Array(DomainCode),
    active: Type.Boolean(),
    status: AgentStatus,
    availableSince: Type.Union([InstantString, Type.Null()]),
  },
  { $id: 'Agent' },
);
const AgentWithToken = Type.Object(
  { ...AgentSchema.properties, token: Type.String({ description: 'Affiché une seule fois' }) },
  { $id: 'AgentWithToken' },
);
const AgentUpdated = Type.Object(
  {
    ...AgentSchema.properties,
    windowsOverCapacity: Type.Optional(WindowsOverCapacity),
  },
  { $id: 'AgentUpdated' },
);
const DisplayName = Type.String({ minLength: 1, maxLength: 200, pattern: PATTERNS.notBlank.pattern });

/** The informateur behind the request's bearer token: 401 otherwise, 403 for the ops token. */
export async function requireAgent(req: FastifyRequest, deps: AppDeps): Promise<AgentRecord> {
  const token = agentToken(req, deps.opsToken);
  const agent = await deps.services.agents.authenticate(token);
  if (!agent) throw new AppError('UNAUTHORIZED', UNKNOWN_AGENT_TOKEN);
  return agent;
}

/** A refusal of the request's shape (body, query, path, media type), before any business rule. */
function isShapeRefusal(err: FastifyError | AppError): boolean {
  if (err instanceof AppError) return err.code === 'VALIDATION_ERROR';
  return err.validation !== undefined || err.code?.startsWith('FST_ERR_CTP_') === true;
}

/**
 * The error handler of the informateurs' routes: a request refused for its shape is refused so
 * only once its token is known to be an informateur's (401 without one or for one nobody holds,
 * 403 for the ops token), as on ops routes, whose guard runs before the body is read. Agent
 * routes have no such guard, their statements recognising the token themselves: the lookup
 * happens on this refusal path only. Anything else, and the refusal, goes on to the
 * application's handler.
 */
export function agentErrorHandler(deps: AppDeps) {
  return async (err: FastifyError | AppError, req: FastifyRequest): Promise<never> => {
    if (isShapeRefusal(err)) await requireAgent(req, deps);
    throw err;
  };
}

export function agentRoutes(deps: AppDeps): FastifyPluginAsync {
  const { agents } = deps.services;
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.addSchema(AgentSchema);
    app.addSchema(AgentWithToken);
    app.addSchema(AgentUpdated);
    const ops = opsGuard(deps.opsToken, deps.services.agents);

    app.post(
      '/v1/agents',
      {
        onRequest: ops,
        schema: {
          tags: ['ops'],
          operationId: 'createAgent',
          summary: 'Créer un informateur (son jeton est affiché une seule fois)',
          security: OPS,
          body: Type.Object({ displayName: DisplayName, domains: Domains }, { additionalProperties: false }),
          response: {
            201: Type.Ref('AgentWithToken', {
              description: 'Informateur créé, avec son jeton (affiché une seule fois)',
            }),
            ...errors(AUTH),
          },
        },
      },
      async (req, reply) => reply.code(201).send(await agents.create(req.body.displayName, req.body.domains)),
    );

    app.get(
      '/v1/agents',
      {
        onRequest: ops,
        schema: {
          tags: ['ops'],
          operationId: 'listAgents',
          summary: 'Lister les informateurs',
          security: OPS,
          response: {
            200: Type.Array(Type.Ref('Agent'), { description: 'Les informateurs' }),
            ...errors(AUTH),
          },
        },
      },
      async () => agents.list(),
    );

    app.patch(
      '/v1/agents/:id',
      {
        onRequest: ops,
        schema: {
          tags: ['ops'],
          operationId: 'updateAgent',
          summary: 'Modifier, désactiver ou réactiver un informateur',
          security: OPS,
          params: Type.Object({
            id: Type.String({
              maxLength: 64,
              description: 'Identifiant de l’informateur (id de GET /v1/agents)',
            }),
          }),
          body: Type.Object(
            {
              displayName: Type.Optional(DisplayName),
              domains: Type.Optional(Domains),
              active: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false, minProperties: 1 },
          ),
          response: {
            200: Type.Ref('AgentUpdated', {
              description:
                'L’informateur modifié ; après une désactivation ou un changement de domaines, avec les créneaux désormais en surréservation (windowsOverCapacity)',
            }),
            ...errors(AUTH, 'NOT_FOUND'),
          },
        },
      },
      async (req) => agents.update(req.params.id, req.body),
    );

    app.post(
      '/v1/agents/:id/token',
      {
        onRequest: ops,
        schema: {
          tags: ['ops'],
          operationId: 'rotateAgentToken',
          summary: "Renouveler le jeton d'un informateur (l'ancien cesse de fonctionner)",
          security: OPS,
          params: Type.Object({
            id: Type.String({
              maxLength: 64,
              description: 'Identifiant de l’informateur (id de GET /v1/agents)',
            }),
          }),
          response: {
            200: Type.Ref('AgentWithToken', {
              description: 'L’informateur et son nouveau jeton (l’ancien est révoqué)',
            }),
            ...errors(AUTH, 'NOT_FOUND'),
          },
        },
      },
      async (req) => agents.rotateToken(req.params.id),
    );

    app.put(
      '/v1/agents/me/status',
      {
        schema: {
          tags: ['agents'],
          operationId: 'setMyStatus',
          summary:
            'Se déclarer disponible, en pause ou hors ligne (hors ligne : le rappel en cours retourne à la file)',
          security: AGENT,
          body: Type.Object({ status: AgentStatus }, { additionalProperties: false }),
          response: {
            200: Type.Ref('Agent', { description: 'L’informateur, avec son nouveau statut' }),
            ...errors(AUTH),
          },
        },
        errorHandler: agentErrorHandler(deps),
      },
      async (req) => {
        const agent = await requireAgent(req, deps);
        return agents.setStatus(agent.id, req.body.status);
      },
    );
  };
}
