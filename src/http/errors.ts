/** The contract's error codes, their HTTP status and French title. */
export const ERRORS = {
  VALIDATION_ERROR: {
    status: 400,
    title: 'Requête invalide',
    when: 'le corps, les paramètres ou les en-têtes ne respectent pas le schéma',
  },
  INVALID_PHONE: {
    status: 422,
    title: 'Numéro de téléphone non valide',
    when: 'pas un numéro français appelable (`reason` : invalid, premium_rate, not_french)',
  },
  CENTRE_CLOSED: {
    status: 422,
    title: 'Centre fermé',
    when: 'le centre est fermé ce jour-là ou à cette heure (`reason` : weekend, holiday, closure ; `label` : nom du jour férié ou motif de la fermeture)',
  },
  OUTSIDE_OPENING_HOURS: {
    status: 422,
    title: "En dehors des heures d'ouverture",
    when: 'le jour est ouvert, mais pas à cette heure',
  },
  SLOT_NOT_AVAILABLE: {
    status: 422,
    title: 'Créneau non disponible',
    when: 'pas un début de créneau, passé, trop proche ou au-delà de l’horizon (`reason` : not_window_start, past, too_soon, beyond_horizon ; `nextSlots`)',
  },
  SLOT_FULL: {
    status: 409,
    title: 'Créneau complet',
    when: 'le créneau n’a plus de place (`nextSlots` : jusqu’à 3 créneaux réservables)',
  },
  ASAP_UNAVAILABLE: {
    status: 409,
    title: 'Rappel immédiat indisponible',
    when: 'la promesse « dès que possible » ne peut pas être tenue maintenant (`reason` : closed, nobody_available, promise_exceeded, closing_soon)',
  },
  DUPLICATE_REQUEST: {
    status: 409,
    title: 'Demande déjà en cours',
    when: 'une demande active existe déjà pour ce numéro et ce domaine',
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    title: "Clé d'idempotence déjà utilisée",
    when: 'même clé d’idempotence, autre corps',
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    title: "Clé d'idempotence en cours d'utilisation",
    when: 'même clé d’idempotence, la première requête est encore en cours ; réessayer après Retry-After secondes',
  },
  CLOSURE_HAS_BOOKINGS: {
    status: 409,
    title: 'Rappels prévus pendant la fermeture',
    when: 'la fermeture couvre des rappels prévus (`references` les liste) ; moveBookings: true les déplace',
  },
  INVALID_TRANSITION: {
    status: 409,
    title: 'Action impossible dans cet état',
    when: 'l’état du rappel (ou de la fermeture) ne permet pas cette action (`callbackStatus` : son état)',
  },
  UNAUTHORIZED: {
    status: 401,
    title: 'Authentification requise',
    when: 'jeton absent, mal formé ou inconnu (en-tête WWW-Authenticate)',
  },
  FORBIDDEN: {
    status: 403,
    title: 'Accès refusé',
    when: 'jeton d’un autre rôle, ou informateur auquel le rappel n’est pas attribué',
  },
  NOT_FOUND: { status: 404, title: 'Introuvable', when: 'aucune ressource à cette adresse' },
  RATE_LIMITED: {
    status: 429,
    title: 'Trop de demandes',
    when: 'limite de demandes atteinte (`reason` : ip, par adresse IP ; phone, par numéro et par jour) ; réessayer après Retry-After secondes',
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    title: 'Service momentanément indisponible',
    when: 'une dépendance (base de données, file) ne répond pas, le service est surchargé ou redémarre ; rien n’a été écrit, réessayer après Retry-After secondes',
  },
  INTERNAL_ERROR: { status: 500, title: 'Erreur interne', when: 'erreur inattendue du service' },
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
