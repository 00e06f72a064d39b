import type { FastifyRequest } from 'fastify';
import { AppError } from './errors.js';
import { constantTimeEquals, sha256 } from '../services/tokens.js';

export function bearerToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer\s+(\S{1,512})\s*$/i.exec(h);
  return m?.[1];
}

const MISSING = (whose: string) =>
  `Jeton d'${whose} manquant ou mal formé (en-tête attendu : Authorization: Bearer <jeton>).`;

/**
 * The informateur behind the request, as the desk statements check it: by the hash of the
 * presented token, in the same statement that does the work (no lookup of its own, and a
 * rotated token or a deactivated informateur is refused at once). 401 without a token, 403 with
 * the ops token (a real token, but the wrong role).
 */
export function agentByToken(req: FastifyRequest, opsToken: string): { tokenHash: Buffer } {
  return { tokenHash: sha256(agentToken(req, opsToken)) };
}

/** The bearer token of an agent route: 401 without one, 403 for the ops token. */
export function agentToken(req: FastifyRequest, opsToken: string): string {
  const token = bearerToken(req);
  if (token === undefined) throw new AppError('UNAUTHORIZED', MISSING('informateur'));
  if (constantTimeEquals(token, opsToken))
    throw new AppError('FORBIDDEN', "Le jeton d'exploitation n'ouvre pas l'accès informateur.");
  return token;
}

/** The guard of every ops route: requireOps, an informateur's token recognised by the agents service. */
export function opsGuard(
  opsToken: string,
  agents: { authenticate(token: string): Promise<unknown> },
): (req: FastifyRequest) => Promise<void> {
  return (req) => requireOps(req, opsToken, async (t) => (await agents.authenticate(t)) !== null);
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
  if (token === undefined) throw new AppError('UNAUTHORIZED', MISSING('exploitation'));
  if (constantTimeEquals(token, opsToken)) return;
  if (await isAgentToken(token))
    throw new AppError('FORBIDDEN', "Ce jeton d'informateur n'ouvre pas l'accès exploitation.");
  throw new AppError('UNAUTHORIZED', "Ce jeton n'est pas reconnu.");
}
