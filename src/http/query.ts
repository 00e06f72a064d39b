import type { FastifyRequest } from 'fastify';

/**
 * preValidation of the ops lists and of the public calendar GETs: a parameter sent empty
 * (`?status=&domain=`, as the contract writes the route, as a form leaves a field, or as a
 * page's script sends `from=` for "today") is absent, rather than a 400 for an empty status or
 * date; a required one is then refused as missing.
 */
export async function emptyFiltersAreAbsent(req: FastifyRequest): Promise<void> {
  const query = req.query as Record<string, unknown> | undefined;
  if (!query) return;
  for (const [name, value] of Object.entries(query)) if (value === '') delete query[name];
}
