import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';

/** The Ajv instance @fastify/ajv-compiler hands to `onCreate`. */
type Ajv = Parameters<NonNullable<NonNullable<Parameters<ValidatorFactory>[1]>['onCreate']>>[0];

/** An instant written to the minute, as ISO 8601 allows (`2026-11-23T09:00+01:00`). */
const TO_THE_MINUTE = /^(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d)([Zz]|[+-]\d\d:\d\d)$/;

/**
 * The `date-time` format of ajv-formats is RFC 3339's, which requires the seconds. The contract
 * asks for ISO 8601 with an offset, which leaves them out at will: a `slotStart` of
 * `2026-11-23T09:00+01:00` is read as `…T09:00:00+01:00` instead of refused. Everything else
 * is judged by the RFC 3339 check itself.
 */
export function acceptInstantsToTheMinute(ajv: Ajv): void {
  const rfc = ajv.formats['date-time'];
  if (typeof rfc !== 'object' || !('validate' in rfc) || typeof rfc.validate !== 'function') return;
  const validate = rfc.validate as (s: string) => boolean;
  const compare =
    'compare' in rfc ? (rfc.compare as (a: string, b: string) => number | undefined) : undefined;
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (s: string) =>
      validate(s) || (TO_THE_MINUTE.test(s) && validate(s.replace(TO_THE_MINUTE, '$1:00$2'))),
    ...(compare ? { compare } : {}),
  });
}

/**
 * Fastify's own Ajv compiler (the one it uses by default: ajv-formats, shared schemas added with
 * addSchema, one compiler per set of options), with one Ajv instance per kind of request part:
 * - query string, path parameters and headers arrive as text, so their values are coerced to the
 *   declared types (`?days=14` is the number 14), with the server's `ajv.customOptions`;
 * - a JSON body carries JSON types: it is validated with the same options but no coercion, so
 *   `{"cancelToken": 123}`, `{"moveBookings": "true"}` or `{"domains": "travail"}` are refused.
 */
export function partAwareValidator(): ValidatorFactory {
  const pool = AjvCompiler();
  return (externalSchemas, given) => {
    const options = given && {
      ...given,
      onCreate: (ajv: Ajv) => {
        given.onCreate?.(ajv);
        acceptInstantsToTheMinute(ajv);
      },
    };
    const forText = pool(externalSchemas, options);
    // JSON Type Definition schemas never coerce: nothing to change for them.
    if (options?.mode === 'JTD') return forText;
    const forBody = pool(externalSchemas, {
      ...options,
      customOptions: { ...options?.customOptions, coerceTypes: false },
    });
    return (route) => (route.httpPart === 'body' ? forBody(route) : forText(route));
  };
}

/**
 * Whether a parsed body or query holds U+0000 in a string (key or value). PostgreSQL's text
 * cannot store it: such input is refused up front as a validation error, not left to fail
 * in an INSERT as a 500. It runs before the schema, on any JSON: the walk keeps its own stack
 * (a 16 kB body can nest thousands of levels deep).
 */
export function containsNul(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return true;
    } else if (Array.isArray(v)) {
      stack.push(...v);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k.includes('\u0000')) return true;
        stack.push(x);
      }
    }
  }
  return false;
}
