import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { loggableError } from '../logger.js';
import { AppError, isUnavailableError, problemOf, type Problem } from './errors.js';
import { isTransientConflict } from '../db/conflicts.js';
import { patternHint } from './schemas/common.js';

/**
 * A problem+json answer. A 401 names the scheme its routes take (`WWW-Authenticate: Bearer`, as
 * HTTP requires of a 401 and RFC 6750 writes it for bearer tokens).
 */
export function sendProblem(reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}) {
  const challenge = problem.status === 401 ? { 'www-authenticate': 'Bearer realm="rappel"' } : {};
  return reply
    .code(problem.status)
    .headers({ ...challenge, ...headers })
    .type('application/problem+json')
    .send(problem);
}

interface AjvError {
  keyword: string;
  instancePath: string;
  params?: Record<string, unknown>;
  message?: string;
}

const PARTS: Record<string, string> = {
  body: 'corps de la requête',
  querystring: "paramètres de l'adresse",
  headers: 'en-têtes',
  params: 'chemin',
};

const TYPES: Record<string, string> = {
  string: 'une chaîne de caractères',
  boolean: 'un booléen (true ou false)',
  integer: 'un nombre entier',
  number: 'un nombre',
  array: 'un tableau',
  object: 'un objet JSON',
  null: 'null',
};

/** A name given by the client (an unexpected field), shown back only short. */
function clip(name: string): string {
  return name.length > 40 ? `${name.slice(0, 40)}…` : name;
}

/** `/domains/0` → `domains[0]` (JSON pointer escapes undone). */
function fieldOf(instancePath: string, child?: unknown): string {
  const segments = instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (typeof child === 'string') segments.push(child);
  return segments.reduce(
    (acc, s) => (/^\d+$/.test(s) && acc ? `${acc}[${s}]` : acc ? `${acc}.${clip(s)}` : clip(s)),
    '',
  );
}

function typeNames(type: unknown): string {
  const types = Array.isArray(type) ? type : String(type).split(',');
  return types.map((t: string) => TYPES[t] ?? t).join(' ou ');
}

function quoted(values: unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? `« ${v} »` : JSON.stringify(v))).join(', ');
}

function plural(n: unknown, word: string): string {
  return `${String(n)} ${word}${Number(n) > 1 ? 's' : ''}`;
}

/** Ajv's error, said in French (Ajv's own messages are English). */
function explain(e: AjvError, errors: AjvError[]): string {
  const p = e.params ?? {};
  switch (e.keyword) {
    case 'type':
      return `doit être ${typeNames(p.type)}`;
    case 'required':
      return 'champ obligatoire manquant';
    case 'additionalProperties':
      return 'champ non prévu';
    case 'const':
      return `valeur admise : ${quoted([p.allowedValue])}`;
    case 'enum':
      return `valeurs admises : ${quoted(Array.isArray(p.allowedValues) ? p.allowedValues : [])}`;
    case 'anyOf':
    case 'oneOf': {
      // Ajv lists each alternative's failure before this one: for a set of literals, name them.
      const branches = errors.filter((b) => b !== e && b.instancePath === e.instancePath);
      if (branches.length > 0 && branches.every((b) => b.keyword === 'const')) {
        return `valeurs admises : ${quoted(branches.map((b) => b.params?.allowedValue))}`;
      }
      if (branches.length > 0 && branches.every((b) => b.keyword === 'type')) {
        return `doit être ${[...new Set(branches.map((b) => typeNames(b.params?.type)))].join(' ou ')}`;
      }
      return branches[0] ? explain(branches[0], []) : 'aucune des formes admises';
    }
    case 'format':
      return p.format === 'date-time'
        ? 'date et heure ISO 8601 avec décalage attendues (ex. 2026-11-23T09:00:00+01:00)'
        : `format ${String(p.format)} attendu`;
    case 'pattern':
      return patternHint(p.pattern);
    case 'minLength':
      return `au moins ${plural(p.limit, 'caractère')}`;
    case 'maxLength':
      return `au plus ${plural(p.limit, 'caractère')}`;
    case 'minimum':
      return `valeur minimale ${String(p.limit)}`;
    case 'maximum':
      return `valeur maximale ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `valeur supérieure à ${String(p.limit)} attendue`;
    case 'exclusiveMaximum':
      return `valeur inférieure à ${String(p.limit)} attendue`;
    case 'minItems':
      return `au moins ${plural(p.limit, 'élément')}`;
    case 'maxItems':
      return `au plus ${plural(p.limit, 'élément')}`;
    case 'uniqueItems':
      return 'éléments en double';
    case 'minProperties':
      return `au moins ${plural(p.limit, 'champ')}`;
    case 'maxProperties':
      return `au plus ${plural(p.limit, 'champ')}`;
    default:
      return 'format attendu non respecté';
  }
}

function describeValidation(err: FastifyError): string {
  const errors = (err.validation ?? []) as AjvError[];
  // Ajv stops at the first failure (allErrors false), but an anyOf/oneOf lists each alternative's
  // failure before its own: the last error is the one that failed the request.
  const first = errors[errors.length - 1];
  if (!first) return 'La requête ne respecte pas le format attendu.';
  const where = PARTS[err.validationContext ?? ''] ?? 'requête';
  const field = fieldOf(
    first.instancePath,
    first.params?.missingProperty ?? first.params?.additionalProperty,
  );
  const why = explain(first, errors);
  return field
    ? `Champ « ${field} » non valide (${where}) : ${why}.`
    : `Requête non valide (${where}) : ${why}.`;
}

/** One handler for every error: application/problem+json, French texts, no 5xx message leaks. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | Error, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof AppError) {
      if (err.status >= 500) req.log.warn({ code: err.code }, err.detail);
      return sendProblem(reply, problemOf(err.code, err.detail, err.extra), err.headers);
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      // A path that fails its schema names no resource: the contract answers 404 for a malformed
      // reference (VALIDATION_ERROR is for body, query and headers).
      if (fe.validationContext === 'params') {
        return sendProblem(reply, problemOf('NOT_FOUND', "Cette ressource n'existe pas."));
      }
      return sendProblem(reply, problemOf('VALIDATION_ERROR', describeValidation(fe)));
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      // Fastify's own client errors: malformed JSON, empty body, unsupported media type, too large…
      if (fe.statusCode === 404)
        return sendProblem(reply, problemOf('NOT_FOUND', "Cette ressource n'existe pas."));
      if (fe.statusCode === 429) return sendProblem(reply, problemOf('RATE_LIMITED', 'Trop de demandes.'));
      return sendProblem(reply, problemOf('VALIDATION_ERROR', `Requête illisible : ${clientMessage(fe)}`));
    }
    if (isTransientConflict(err)) {
      // Rolled back whole by PostgreSQL (deadlock victim, serialization failure) after the
      // service's own retries: nothing was written, asking again shortly will do.
      req.log.warn({ err: { message: err.message } }, 'transaction rolled back by a conflict');
      return sendProblem(
        reply,
        problemOf('SERVICE_UNAVAILABLE', 'Le service est très sollicité. Réessayez dans un instant.'),
        { 'retry-after': '1' },
      );
    }
    if (isUnavailableError(err)) {
      // A statement PostgreSQL cancelled for running too long may be a slow plan or a lock held
      // too long, not only a database down: logged as an error, for someone to look at.
      if ((err as { code?: string }).code === '57014')
        req.log.error({ err: { message: err.message } }, 'statement cancelled (DB_STATEMENT_TIMEOUT_MS)');
      else req.log.warn({ err: { message: err.message } }, 'dependency unavailable');
      return sendProblem(
        reply,
        problemOf(
          'SERVICE_UNAVAILABLE',
          'Le service est momentanément indisponible. Réessayez dans quelques instants.',
        ),
        {
          'retry-after': '5',
        },
      );
    }
    req.log.error({ err: loggableError(err) }, 'unexpected error');
    return sendProblem(reply, problemOf('INTERNAL_ERROR', 'Une erreur inattendue est survenue.'));
  });

  app.setNotFoundHandler((req, reply) =>
    sendProblem(
      reply,
      problemOf('NOT_FOUND', `Aucune ressource à l'adresse ${req.method} ${req.url.split('?')[0]}.`),
    ),
  );
}

function clientMessage(fe: FastifyError): string {
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'le corps JSON est mal formé.';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'type de contenu non pris en charge (application/json attendu).';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'le corps de la requête est trop volumineux.';
    default:
      return 'format non reconnu.';
  }
}

/**
 * Fastify's clientErrorHandler: what Node's HTTP parser refuses before any route (headers or
 * request line too long, a malformed request, one too slow to arrive) gets a problem+json 400
 * VALIDATION_ERROR, then the connection is closed, as Node and fastify do; so does a body the
 * parser refuses while its request is under way (malformed chunked framing). Nothing is written
 * when a response to an earlier request on the connection is under way: the 400 would land
 * inside it, or be read as its answer.
 */
export function clientErrorAnswer(log: Logger) {
  const answer = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    log.debug({ err: { code: err.code, message: err.message } }, 'client error');
    // Undefined on a new connection, null once a response on it has finished (Node's own).
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
    // The response of the request whose body the parser refused (malformed chunked framing):
    // that request is not complete, nothing is written yet, so the 400 is its answer.
    const ownBody = inFlight !== null && !inFlight.headersSent && inFlight.req?.complete === false;
    if (socket.writable && (inFlight === null || ownBody)) {
      const detail =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? 'La ligne de requête ou les en-têtes sont trop longs.'
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? "La requête n'est pas arrivée complète à temps."
            : 'Requête HTTP mal formée.';
      const body = JSON.stringify(problemOf('VALIDATION_ERROR', detail));
      socket.write(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
  // Run inside the server's 'clientError' event: anything thrown here is uncaught and ends the
  // process (an outside review crashed the API with a keep-alive request followed by garbage,
  // when this read a property of the null that Node leaves once a response has finished).
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    try {
      answer(err, socket);
    } catch (e) {
      log.error({ err: loggableError(e) }, 'client error handler failed');
      socket.destroy();
    }
  };
}
