import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { Services } from './services/index.js';
import { clientErrorAnswer, registerErrorHandling, sendProblem } from './http/error-handler.js';
import { mayHoldPhone } from './logger.js';
import { registerJsonBody } from './http/json-body.js';
import { AppError, problemOf } from './http/errors.js';
import { findUnstorableText, partAwareValidator } from './http/validator.js';
import { ProblemSchema } from './http/schemas/common.js';
import { systemRoutes } from './http/routes/system.js';
import { calendarRoutes } from './http/routes/calendar.js';
import { callbackRoutes } from './http/routes/callbacks.js';
import { agentRoutes } from './http/routes/agents.js';
import { closureRoutes } from './http/routes/closures.js';
import { deskRoutes } from './http/routes/desk.js';
import { opsRoutes } from './http/routes/ops.js';

export interface HealthCheck {
  check(): Promise<Record<string, string>>;
}

export interface AppDeps {
  config: Config;
  log: Logger;
  health: HealthCheck;
  services: Services;
  opsToken: string;
  /** Set by the process once a stop signal came, while it still accepts requests (main.ts). */
  lifecycle?: Lifecycle;
}

/** Where a process stands in its stop: draining = still answering, `/readyz` saying 503. */
export interface Lifecycle {
  draining: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;
const REQUEST_TIMEOUT_MS = 15_000;

/** Builds the HTTP application; never listens (server.ts does, tests use inject). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    trustProxy: deps.config.trustProxy,
    bodyLimit: 16 * 1024,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      // Logged on every line of the request: not one that could be a phone number.
      return typeof given === 'string' && REQUEST_ID.test(given) && !mayHoldPhone(given)
        ? given
        : randomUUID();
    },
    // Query strings, path parameters and headers are text: their values are coerced to the declared
    // types. JSON bodies are not (partAwareValidator: same options, coerceTypes false).
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false },
    },
    schemaController: { compilersFactory: { buildValidator: partAwareValidator() } },
    // Replaced by the onRequest hook below: fastify's own 503 is plain JSON, not problem+json.
    return503OnClosing: false,
    // Malformed or over-long paths never reach a route: answer them as problem+json too.
    frameworkErrors: (err, _req, reply) => {
      const code = (err as { code?: string }).code;
      const problem =
        code === 'FST_ERR_BAD_URL' || code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? problemOf('NOT_FOUND', 'Cette adresse ne correspond à aucune ressource.')
          : problemOf('VALIDATION_ERROR', 'Requête non valide.');
      void sendProblem(reply as FastifyReply, problem);
    },
    forceCloseConnections: 'idle',
    // A request must have arrived whole (headers and body, at most 16 kB) within this: fastify's
    // default (0) turned off Node's own limit, so a client sending a byte now and then held its
    // request open for ever. Node checks every 30 s: one is cut 15 to 45 s after it began (headersTimeout below).
    requestTimeout: REQUEST_TIMEOUT_MS,
    // What Node's HTTP parser refuses before any route is answered as problem+json too.
    clientErrorHandler: clientErrorAnswer(deps.log),
    // HTTP/1.1 requires Host: Node refused a request without one with a bare 400 and no body;
    // the onRequest hook below refuses it as problem+json instead.
    http: { requireHostHeader: false },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Node cuts a request whose body is still arriving by headersTimeout (60 s by default) rather
  // than by requestTimeout when fastify sets only the latter (an outside check saw slow bodies
  // cut after 77–79 s); it must not exceed requestTimeout.
  app.server.headersTimeout = REQUEST_TIMEOUT_MS;

  // Stopping (SIGTERM): a request still reaching the API gets the contract's 503, problem+json
  // with Retry-After, and every answer closes its connection (onSend below); requests already
  // in flight finish.
  let closing = false;
  let reaper: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    closing = true;
    // The server closes the connections idle when the stop begins, not those that go idle after
    // it: a client keeping its connection after an answer given during the stop held the stop
    // up to SHUTDOWN_TIMEOUT_MS, and an unclean exit. Those are closed as they go idle (a
    // request already sent on one gets the 503 below, and its connection then closes).
    reaper = setInterval(() => app.server.closeIdleConnections(), 100);
    reaper.unref();
  });
  app.addHook('onClose', async () => clearInterval(reaper));
  // Every answer names its request; one given during the stop also tells the client not to
  // reuse its connection (it said keep-alive, and the client's next request on it met the 503
  // or, idle, a reset). One hook, called back: it runs on every answer.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    // Nothing is kept by a cache unless its route says so (the public calendar): a callback's
    // status, its cancel token at creation, an informateur's callback carry personal data, and
    // with no header at all a CDN or proxy may store a 200 and serve it to the next caller.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    if (closing || deps.lifecycle?.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  // An OPTIONS request that is not a CORS preflight (no Origin or no
  // Access-Control-Request-Method) is a method no route has: 404 as for any other (README), where
  // @fastify/cors answered 400 in plain text.
  app.addHook('onRequest', async (req, reply) => {
    if (req.method !== 'OPTIONS' || (req.headers.origin && req.headers['access-control-request-method']))
      return;
    reply.callNotFound();
    return reply;
  });
  // CORS headers come before the answers of the hooks below (stopping, overload): a page reads
  // their 503 and its Retry-After only if the answer carries them.
  await app.register(cors, {
    origin: deps.config.corsOrigins,
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    // Besides the API's own: what pages' libraries commonly add (cache busting, trace context),
    // which a preflight refused, and the browser with it the whole request.
    allowedHeaders: [
      'Content-Type',
      'Idempotency-Key',
      'X-Cancel-Token',
      'Authorization',
      'X-Request-Id',
      'Cache-Control',
      'Pragma',
      'Traceparent',
      'Tracestate',
    ],
    exposedHeaders: ['Retry-After', 'X-Request-Id', 'Idempotent-Replayed', 'Location'],
    maxAge: 600,
  });

  // After CORS, so that a page's origin reads this 400 too. RFC 9112 §3.2: a request with more than one Host is refused too (Node kept the first, and a
  // proxy in front may have routed by the other).
  app.addHook('onRequest', async (req, reply) => {
    const hosts = hostLines(req.raw.rawHeaders);
    if (hosts === 1 || (hosts === 0 && req.raw.httpVersion !== '1.1')) return;
    const detail =
      hosts === 0
        ? "L'en-tête Host est obligatoire en HTTP/1.1."
        : "L'en-tête Host ne doit figurer qu'une fois.";
    return sendProblem(reply, problemOf('VALIDATION_ERROR', detail), { connection: 'close' });
  });
  app.addHook('onRequest', async (_req, reply) => {
    if (!closing) return;
    const problem = problemOf('SERVICE_UNAVAILABLE', 'Le service redémarre. Réessayez dans un instant.');
    return sendProblem(reply, problem, { 'retry-after': '1' });
  });

  // Overload: past MAX_IN_FLIGHT_REQUESTS, answer 503 at once rather than queue requests in
  // memory until they time out (they would raise memory and every caller's wait alike). Health
  // checks are never refused: an overloaded process is alive and still ready. A request counts
  // once its body has arrived (preValidation): counted from its headers on, 260 clients sending
  // their bodies a byte every 20 s held every place, and the whole API answered 503 (outside
  // review helper-53); such a request now waits outside the count until REQUEST_TIMEOUT_MS.
  const maxInFlight = deps.config.maxInFlightRequests;
  if (maxInFlight > 0) {
    let inFlight = 0;
    app.addHook('preValidation', async (req, reply) => {
      if (req.url === '/healthz' || req.url === '/readyz') return;
      if (inFlight >= maxInFlight) {
        const problem = problemOf(
          'SERVICE_UNAVAILABLE',
          'Le service reçoit trop de demandes en ce moment. Réessayez dans quelques secondes.',
        );
        return sendProblem(reply, problem, { 'retry-after': '1' });
      }
      inFlight++;
      // 'close' comes once for every response, sent or cut off by the client. (Counting down in
      // onResponse/onRequestAbort leaked: under an open-loop load whose clients time out, the
      // count stuck at the cap and every later request got 503.)
      reply.raw.once('close', () => inFlight--);
    });
  }

  registerErrorHandling(app);
  registerJsonBody(app);
  app.addSchema(ProblemSchema);

  app.addHook('preValidation', async (req) => {
    const found = findUnstorableText(req.body) ?? findUnstorableText(req.query);
    if (found === 'nul')
      throw new AppError('VALIDATION_ERROR', 'Le caractère nul (U+0000) n’est admis dans aucun champ.');
    if (found === 'lone-surrogate')
      throw new AppError(
        'VALIDATION_ERROR',
        'Un échappement \\uD800 à \\uDFFF sans sa paire ne désigne aucun caractère : texte refusé plutôt que stocké altéré.',
      );
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Rappel',
        version: '1.0.0',
        description:
          "Prise de rendez-vous de rappel pour Allô Service Public (3939). Public : boutons « Être rappelé » de service-public.gouv.fr ; agents : informateurs ; ops : jeton d'exploitation.",
      },
      tags: [
        { name: 'public', description: 'Citoyens (service-public.gouv.fr)' },
        { name: 'agents', description: 'Informateurs' },
        { name: 'ops', description: 'Exploitation' },
        { name: 'system', description: 'Santé du service' },
      ],
      components: {
        securitySchemes: {
          opsToken: { type: 'http', scheme: 'bearer', description: "Jeton d'exploitation (OPS_API_TOKEN)" },
          agentToken: { type: 'http', scheme: 'bearer', description: "Jeton personnel d'un informateur" },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _base, _frag, i) => (json.$id as string | undefined) ?? `def-${i}`,
    },
    // Error bodies are sent as application/problem+json (error-handler.ts): the document says so.
    transformObject: (document) => {
      if (!('openapiObject' in document)) return document.swaggerObject;
      type Responses = Record<string, { content?: Record<string, unknown> }>;
      for (const item of Object.values(document.openapiObject.paths ?? {}))
        for (const op of Object.values(item ?? {}) as { responses?: Responses }[])
          for (const [status, response] of Object.entries(op?.responses ?? {})) {
            const json = response.content?.['application/json'];
            if (!/^[45]/.test(status) || json === undefined) continue;
            response.content = { 'application/problem+json': json };
          }
      return document.openapiObject;
    },
  });
  // Ops paste their token into this page: it is never framed by another site (clickjacking),
  // nor its files read as another type. (A script-src policy would have to follow swagger-ui's
  // own inline code: left to its authors' staticCSP, not set here.)
  // (Every path under /docs, its static pages and assets included: swagger-ui's own hooks do
  // not reach the files it serves, such as oauth2-redirect.html.)
  app.addHook('onRequest', async (req, reply) => {
    if (req.url !== '/docs' && !req.url.startsWith('/docs/')) return;
    void reply.headers({
      'content-security-policy': "frame-ancestors 'none'",
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } });

  await app.register(systemRoutes(deps));
  await app.register(calendarRoutes(deps));
  await app.register(callbackRoutes(deps));
  await app.register(agentRoutes(deps));
  await app.register(closureRoutes(deps));
  await app.register(deskRoutes(deps));
  await app.register(opsRoutes(deps));

  return app;
}

/** How many Host lines a request has (Node's `headers.host` keeps only the first). */
function hostLines(raw: string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') n++;
  return n;
}
