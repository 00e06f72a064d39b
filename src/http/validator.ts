import AjvCompiler, { type ValidatorFactory } from '@fastify/ajv-compiler';

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
  return (externalSchemas, options) => {
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
