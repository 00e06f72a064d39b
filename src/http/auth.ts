import type { FastifyRequest } from 'fastify';
import { AppError } from './errors.js';
import { constantTimeEquals, sha256 } from '../services/tokens.js';

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(h);
  return m?.[1];
}

/**
 * The informateur behind the request, as the desk statements check it: by the hash of the
 * presented token, in the same statement that does the work (no lookup of its own, and a
 * rotated token or a deactivated informateur is refused at once). 401 without a token.
 */
export function agentByToken(req: FastifyRequest): { tokenHash: Buffer } {
  const token = bearerToken(req);
  if (token === undefined)
    throw new AppError('UNAUTHORIZED', "Jeton d'informateur manquant (Authorization: Bearer …).");
  return { tokenHash: sha256(token) };
}

export function isOps(req: FastifyRequest, opsToken: string): boolean {
  const token = bearerToken(req);
  return token !== undefined && constantTimeEquals(token, opsToken);
}

/**
 * Ops routes: 401 without a token or with a token nobody holds, 403 with an informateur's
 * token (a real token, but the wrong role).
 */
export async function requireOps(
  req: FastifyRequest,
  opsToken: string,
  isAgentToken: (token: string) => Promise<boolean>,
): Promise<void> {
  const token = bearerToken(req);
  if (token === undefined)
    throw new AppError('UNAUTHORIZED', "Jeton d'exploitation manquant (Authorization: Bearer …).");
  if (constantTimeEquals(token, opsToken)) return;
  if (await isAgentToken(token))
    throw new AppError('FORBIDDEN', "Ce jeton d'informateur n'ouvre pas l'accès exploitation.");
  throw new AppError('UNAUTHORIZED', "Ce jeton n'est pas reconnu.");
}
