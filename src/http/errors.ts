/** The contract's error codes, their HTTP status and French title. */
export const ERRORS = {
  VALIDATION_ERROR: { status: 400, title: 'Requête invalide' },
  INVALID_PHONE: { status: 422, title: 'Numéro de téléphone non valide' },
  CENTRE_CLOSED: { status: 422, title: 'Centre fermé' },
  OUTSIDE_OPENING_HOURS: { status: 422, title: "En dehors des heures d'ouverture" },
  SLOT_NOT_AVAILABLE: { status: 422, title: 'Créneau non disponible' },
  SLOT_FULL: { status: 409, title: 'Créneau complet' },
  ASAP_UNAVAILABLE: { status: 409, title: 'Rappel immédiat indisponible' },
  DUPLICATE_REQUEST: { status: 409, title: 'Demande déjà en cours' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: "Clé d'idempotence déjà utilisée" },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: "Clé d'idempotence en cours d'utilisation" },
  CLOSURE_HAS_BOOKINGS: { status: 409, title: 'Rappels prévus pendant la fermeture' },
  INVALID_TRANSITION: { status: 409, title: 'Action impossible dans cet état' },
  UNAUTHORIZED: { status: 401, title: 'Authentification requise' },
  FORBIDDEN: { status: 403, title: 'Accès refusé' },
  NOT_FOUND: { status: 404, title: 'Introuvable' },
  RATE_LIMITED: { status: 429, title: 'Trop de demandes' },
  SERVICE_UNAVAILABLE: { status: 503, title: 'Service momentanément indisponible' },
  INTERNAL_ERROR: { status: 500, title: 'Erreur interne' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

/** The one error type of the service: becomes an application/problem+json answer. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(`${code}: ${detail}`);
    this.name = 'AppError';
    this.status = ERRORS[code].status;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  [extra: string]: unknown;
}

export function problemOf(code: ErrorCode, detail: string, extra: Record<string, unknown> = {}): Problem {
  const { status, title } = ERRORS[code];
  // Extras never override the problem's own members (a `status` extra would break the reply).
  return {
    ...extra,
    type: `urn:rappel:problem:${code.toLowerCase().replace(/_/g, '-')}`,
    title,
    status,
    detail,
    code,
  };
}

/** A dependency (PostgreSQL, Redis) is down: the request wrote nothing. */
export function isUnavailableError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: string };
  const code = e.code ?? '';
  if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH'].includes(code))
    return true;
  // PostgreSQL: connection exceptions, admin shutdown, cannot connect now, too many connections;
  // a statement cancelled (statement_timeout, 57014) or a lock not had in time (lock_timeout,
  // 55P03), whose transaction PostgreSQL rolled back.
  if (/^(08|57P0[1-3]|53300|57014|55P03)/.test(code)) return true;
  return /Query read timeout|Client was closed and is not queryable|Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Stream isn't writeable|Connection is closed|enableOfflineQueue|MaxRetriesPerRequest|did not answer within|Cannot use a pool after calling end|redis is (connecting|reconnecting|end|close|wait)/i.test(
    e.message,
  );
}
