import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isUnavailableError, problemOf, type Problem } from './errors.js';

export function sendProblem(reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}) {
  return reply.code(problem.status).headers(headers).type('application/problem+json').send(problem);
}

function describeValidation(err: FastifyError): string {
  const first = err.validation?.[0];
  if (!first) return 'La requête ne respecte pas le format attendu.';
  const where = err.validationContext ?? 'requête';
  const path = first.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
  const missing = (first.params as { missingProperty?: string } | undefined)?.missingProperty;
  const field = missing ?? path;
  return `Champ ${field ? `« ${field} » ` : ''}non valide (${where}) : ${first.message ?? 'format attendu non respecté'}.`;
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
    if (isUnavailableError(err)) {
      req.log.warn({ err: { message: err.message } }, 'dependency unavailable');
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
    req.log.error({ err }, 'unexpected error');
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
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'le corps JSON est vide.';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'type de contenu non pris en charge (application/json attendu).';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'le corps de la requête est trop volumineux.';
    default:
      return 'format non reconnu.';
  }
}
