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

/**
 * The patterns of the API's schemas, each with what a refusal says is expected (the validation
 * error of a pattern names only the pattern; ops read « format non respecté » for `23/11/2026`).
 */
export const PATTERNS = {
  date: { pattern: '^\\d{4}-\\d{2}-\\d{2}$', hint: 'date au format AAAA-MM-JJ attendue (ex. 2026-11-23)' },
  time: { pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', hint: 'heure au format HH:mm attendue (ex. 08:30)' },
  ficheId: {
    pattern: '^[FNR][0-9]{1,6}$',
    hint: 'identifiant de fiche service-public attendu : F, N ou R suivi de 1 à 6 chiffres (ex. F2258)',
  },
  visibleAscii: {
    pattern: '^[\\x21-\\x7E]+$',
    hint: 'caractères ASCII visibles seulement, sans espace (ex. 9f2c1e7a-demande-42)',
  },
  notBlank: { pattern: '\\S', hint: 'au moins un caractère autre qu’une espace' },
} as const;

/** What a refusal says of a value that does not match `pattern`. */
export function patternHint(pattern: unknown): string {
  return Object.values(PATTERNS).find((p) => p.pattern === pattern)?.hint ?? 'format non respecté';
}

export const DateString = Type.String({
  pattern: PATTERNS.date.pattern,
  description: 'Date locale (Europe/Paris) au format AAAA-MM-JJ',
  examples: ['2026-11-23'],
});
export const InstantString = Type.String({
  format: 'date-time',
  description: 'Date et heure ISO 8601 avec décalage, heure de Paris',
  examples: ['2026-11-23T09:00:00+01:00'],
});
export const DomainCode = Type.Union(
  [Type.Literal('travail'), Type.Literal('interieur'), Type.Literal('justice'), Type.Literal('logement')],
  { description: 'Domaine de compétence' },
);
export type DomainCodeT = Static<typeof DomainCode>;

export const WindowSchema = Type.Object({ start: InstantString, end: InstantString });
