import type { FastifyRequest } from 'fastify';
import { AppError } from './errors.js';
import { constantTimeEquals } from '../services/tokens.js';

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(h);
  return m?.[1];
}

export function isOps(req: FastifyRequest, opsToken: string): boolean {
  const token = bearerToken(req);
  return token !== undefined && constantTimeEquals(token, opsToken);
}

/** Ops routes: 401 without a token, 403 with a token that is not the ops token. */
export function requireOps(req: FastifyRequest, opsToken: string): void {
  const token = bearerToken(req);
  if (token === undefined)
    throw new AppError('UNAUTHORIZED', "Jeton d'exploitation manquant (Authorization: Bearer …).");
  if (!constantTimeEquals(token, opsToken))
    throw new AppError('FORBIDDEN', "Ce jeton n'ouvre pas l'accès exploitation.");
}
