import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';

/** The Ajv instance @fastify/ajv-compiler hands to `onCreate`. */
type Ajv = Parameters<NonNullable<NonNullable<Parameters<ValidatorFactory>[1]>['onCreate']>>[0];

/**
 * An instant written to the minute, as ISO 8601 allows (`2026-11-23T09:00+01:00`), its offset in
 * any of the writings the seconds' form takes (`Z`, `+01:00`, `+0100`, `+01`).
 */
const TO_THE_MINUTE = /^(\d{4}-\d\d-\d\d[Tt]\d\d:\d\d)([Zz]|[+-]\d\d(?::?\d\d)?)$/;

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
    return (route) =>
      route.httpPart === 'body'
        ? forBody(route)
        : route.httpPart === 'querystring'
          ? numbersAsJson(route.schema, forText(route))
          : forText(route);
  };
}

/** JSON's number grammar: what README promises a query number is read as. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

type Validate = ReturnType<ReturnType<ValidatorFactory>>;

/**
 * Ajv's coercion reads a query number with JavaScript's `Number`, which also takes `0x10`,
 * ` 1`, `0b11` or an empty string: `days=0x10` gave 16 days. A declared number or integer of
 * the query string must be written as a JSON number; anything else is refused as a type error,
 * the same 400 as `days=abc`; so must a finite one.
 */
function numbersAsJson(schema: unknown, validate: Validate): Validate {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties;
  const numeric = Object.entries(properties ?? {})
    .filter(([, p]) => p.type === 'integer' || p.type === 'number')
    .map(([name, p]) => ({ name, type: p.type as string }));
  if (numeric.length === 0) return validate;
  const checked = ((data: unknown) => {
    const query = data as Record<string, unknown> | null;
    for (const { name, type } of numeric) {
      const v = query?.[name];
      // `1e400` is JSON's grammar but no finite number: Ajv reads it as Infinity and skips
      // minimum and maximum for it, so `limit=1e400` reached PostgreSQL (a 500).
      if (typeof v === 'string' && !(JSON_NUMBER.test(v) && Number.isFinite(Number(v)))) {
        checked.errors = [
          {
            instancePath: `/${name}`,
            schemaPath: `#/properties/${name}/type`,
            keyword: 'type',
            params: { type },
            message: `must be ${type}`,
          },
        ];
        return false;
      }
    }
    const ok = validate(data);
    checked.errors = (validate as { errors?: typeof checked.errors }).errors;
    return ok;
  }) as Validate & { errors?: { [k: string]: unknown }[] | null };
  return checked;
}

/** A UTF-16 surrogate not part of a pair (with the u flag, a pair is one code point and does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Why a string cannot be stored as sent, or null. */
function unstorable(text: string): 'nul' | 'lone-surrogate' | null {
  if (text.includes('\u0000')) return 'nul';
  if (LONE_SURROGATE.test(text)) return 'lone-surrogate';
  return null;
}

/**
 * Whether a parsed body or query holds, in a string (key or value), text that cannot be stored
 * as sent: U+0000, which PostgreSQL's text cannot store (refused up front as a validation error,
 * not left to fail in an INSERT as a 500), or a lone surrogate (a JSON escape such as
 * "\ud800" with no pair), which becomes U+FFFD on its way to UTF-8: refused rather than
 * stored altered. It runs before the schema, on any JSON: the walk keeps its own stack (a 16 kB
 * body can nest thousands of levels deep).
 */
export function findUnstorableText(value: unknown): 'nul' | 'lone-surrogate' | null {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      const found = unstorable(v);
      if (found) return found;
    } else if (Array.isArray(v)) {
      stack.push(...v);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        const found = unstorable(k);
        if (found) return found;
        stack.push(x);
      }
    }
  }
  return null;
}
