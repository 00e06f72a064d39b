import { Type, type Static } from 'typebox';

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
  },
  {
    $id: 'Problem',
    additionalProperties: true,
    description: 'RFC 9457 problem details (application/problem+json)',
  },
);

export const problemRef = Type.Ref('Problem');

/** Standard error responses of a route, for the OpenAPI document. */
export function errors(...statuses: number[]): Record<number, typeof problemRef> {
  return Object.fromEntries([400, 503, ...statuses].map((s) => [s, problemRef]));
}

/** The answers of a route behind a bearer token: unknown token 401, wrong role 403. */
export const authErrors = { 401: problemRef, 403: problemRef };

/** OpenAPI security of a route (Swagger UI sends a token only to routes that declare it). */
export const OPS = [{ opsToken: [] }];
export const AGENT = [{ agentToken: [] }];

export const DateString = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
  description: 'Paris local date YYYY-MM-DD',
  examples: ['2026-11-23'],
});
export const InstantString = Type.String({
  format: 'date-time',
  description: 'ISO 8601 instant with offset, Europe/Paris',
  examples: ['2026-11-23T09:00:00+01:00'],
});
export const DomainCode = Type.Union(
  [Type.Literal('travail'), Type.Literal('interieur'), Type.Literal('justice'), Type.Literal('logement')],
  { description: 'Domaine de compétence' },
);
export type DomainCodeT = Static<typeof DomainCode>;

export const WindowSchema = Type.Object({ start: InstantString, end: InstantString });
