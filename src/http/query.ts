import type { FastifyRequest } from 'fastify';

/**
 * preValidation of the ops lists: a filter sent empty (`?status=&domain=`, as the contract
 * writes the route, or as a form leaves a field) is no filter, rather than a 400 for an empty
 * status or date.
 */
export async function emptyFiltersAreAbsent(req: FastifyRequest): Promise<void> {
  const query = req.query as Record<string, unknown> | undefined;
  if (!query) return;
  for (const [name, value] of Object.entries(query)) if (value === '') delete query[name];
}
