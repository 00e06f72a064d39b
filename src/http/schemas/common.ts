import { Type, type Static } from 'typebox';
import { ERRORS, type ErrorCode } from '../errors.js';

const CODES = Object.keys(ERRORS) as ErrorCode[];

export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'URN du problème (urn:rappel:problem:…)' }),
    title: Type.String({ description: 'Intitulé, en français' }),
    status: Type.Integer({ description: 'Statut HTTP' }),
    detail: Type.String({ description: 'Explication, en français' }),
    code: Type.String({ enum: CODES, description: 'Code d’erreur du contrat' }),
    label: Type.Optional(
      Type.String({ description: 'CENTRE_CLOSED : nom du jour férié ou motif de la fermeture' }),
    ),
    reason: Type.Optional(
      Type.String({
        description:
          'Précision du code (INVALID_PHONE, CENTRE_CLOSED, SLOT_NOT_AVAILABLE, ASAP_UNAVAILABLE, RATE_LIMITED)',
      }),
    ),
    nextSlots: Type.Optional(
      Type.Array(Type.Object({ start: Type.String(), end: Type.String() }), {
        description: 'Refus d’un créneau : jusqu’à 3 créneaux réservables',
      }),
    ),
    references: Type.Optional(
      Type.Array(Type.String(), { description: 'CLOSURE_HAS_BOOKINGS : références des rappels concernés' }),
    ),
    callbackStatus: Type.Optional(Type.String({ description: 'INVALID_TRANSITION : état du rappel' })),
  },
  {
    $id: 'Problem',
    additionalProperties: true,
    description: 'Problème (RFC 9457), en application/problem+json',
  },
);

export const problemRef = Type.Ref('Problem');

/** A response schema with the description OpenAPI shows for it (else « Default Response »). */
export const described = <T extends object>(description: string, schema: T): T => ({
  ...schema,
  description,
});

/** The contract's error codes of a route behind a bearer token: unknown token, wrong role. */
export const AUTH = ['UNAUTHORIZED', 'FORBIDDEN'] as const;

/** Error answers by status, for a route's `response` (known keys: an index signature there mistyped the 200). */
type ProblemResponses = Partial<
  Record<400 | 401 | 403 | 404 | 409 | 422 | 429 | 500 | 503, typeof problemRef>
>;

/** The codes whose answers say how long to wait (Retry-After). */
const WAIT_CODES = new Set<ErrorCode>(['RATE_LIMITED', 'SERVICE_UNAVAILABLE', 'IDEMPOTENCY_KEY_IN_USE']);

const RETRY_AFTER = {
  'retry-after': { type: 'integer', description: 'Secondes à attendre avant de réessayer' },
};

/**
 * The error answers of a route for the OpenAPI document, by status, each naming the contract's
 * codes it may carry and when; `problems` those given, `errors` also VALIDATION_ERROR and
 * SERVICE_UNAVAILABLE, which any route reading a request or the database may answer (a query
 * string or a body it does not take is a 400 too).
 */
export function problems(...codes: (ErrorCode | readonly ErrorCode[])[]): ProblemResponses {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes.flat()) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, list]) => [
      status,
      Type.Ref('Problem', {
        description: list.map((c) => `\`${c}\` : ${ERRORS[c].when}.`).join('\n\n'),
        ...(list.some((c) => WAIT_CODES.has(c)) ? { headers: RETRY_AFTER } : {}),
      }),
    ]),
  );
}

export function errors(...codes: (ErrorCode | readonly ErrorCode[])[]): ProblemResponses {
  return problems('VALIDATION_ERROR', ...codes, 'SERVICE_UNAVAILABLE');
}

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

/**
 * Windows to come holding more bookings than the domain's active informateurs now give places
 * (an informateur deactivated or given other domains, a lower CALLBACKS_PER_AGENT_PER_SLOT).
 */
export const WindowsOverCapacity = Type.Array(
  Type.Object({
    domain: DomainCode,
    start: InstantString,
    booked: Type.Integer({ description: 'Rappels réservés sur le créneau' }),
    capacity: Type.Integer({
      description: 'Places que donnent maintenant les informateurs actifs du domaine',
    }),
    references: Type.Array(Type.String(), {
      description:
        'Les 20 premiers rappels à venir sur ce créneau, par ordre de réservation (booked les compte tous)',
    }),
  }),
  {
    description:
      'Créneaux à venir qui comptent plus de rappels réservés que les informateurs actifs du domaine ne peuvent en passer (après une désactivation ou un changement de domaines). Les réservations sont maintenues : à l’exploitation de renforcer l’équipe sur ces créneaux ou d’en déplacer les rappels. Au plus les 100 premiers créneaux, par ordre chronologique.',
  },
);
