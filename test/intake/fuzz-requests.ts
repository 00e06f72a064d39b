import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { OPS_TOKEN } from '../support/runtime.js';

/**
 * Requests for the intake fuzz test (fuzz.test.ts): mostly what a browser would send, with
 * every part (body, content-type, headers, path, query) sometimes wrong, malformed or huge.
 */

const often = <T>(arb: fc.Arbitrary<T>, wrong: fc.Arbitrary<unknown>, weight = 6) =>
  fc.oneof({ weight, arbitrary: arb as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: wrong });
const rarely = <T>(arb: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const withoutUndefined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Characters a real HTTP client can put in a header value (visible ASCII, space, Latin-1). */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0xa0, max: 0xff }).map((c) => String.fromCharCode(c)),
);
const headerValue = often(
  fc.string({ unit: headerChar, maxLength: 40 }),
  fc.string({ unit: headerChar, minLength: 200, maxLength: 700 }),
) as fc.Arbitrary<string>;
const keyChar = fc.constantFrom(...'abcdefghXYZ0123456789-_:.'.split(''));
/** URL characters, '%' included so that some escapes are malformed. */
const urlChar = fc.constantFrom(...'abcXYZ019-_.~%&=+;,/:@!$()*[]?'.split(''));

const domain = often(
  fc.constantFrom('travail', 'logement', 'justice'),
  fc.constantFrom('interieur', 'sante', '', 'TRAVAIL'),
);
const field = {
  domain,
  phone: fc.oneof(
    { weight: 4, arbitrary: fc.stringMatching(/^06 1\d( \d\d){3}$/) },
    {
      weight: 2,
      arbitrary: fc.constantFrom('06 12 34 56 78', '+33 6 12 34 56 78', '0033612345678', '0690 12 34 56'),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom('0899 12 34 56', '3939', '+44 20 7946 0958', '0', '++33', '0'.repeat(41)),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 45 }) },
  ),
  mode: often(fc.constantFrom('slot', 'asap'), fc.constantFrom('later', '')),
  slotStart: fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 23, max: 30 }),
          fc.integer({ min: 8, max: 18 }),
          fc.constantFrom('00', '30', '15'),
        )
        .map(([d, h, m]) => `2026-11-${d}T${String(h).padStart(2, '0')}:${m}:00+01:00`),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '2026-11-23T08:00:00Z',
        '2026-12-25T14:00:00+01:00',
        '2026-12-08T09:00:00+01:00',
        '2026-11-23T09:00:00',
        '2026-02-30T09:00:00+01:00',
        '9999-12-31T23:59:59+14:00',
      ),
    },
    { weight: 1, arbitrary: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()) },
  ),
  ficheId: often(
    fc.constantFrom('F2258', 'N19806', 'R42946'),
    fc.oneof(fc.constantFrom('X1', 'F1234567'), fc.string()),
  ),
  subject: often(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ minLength: 495, maxLength: 505 }),
  ),
  consent: often(fc.constant(true), fc.jsonValue(), 8),
};

/** A booking whose fields are mostly plausible, sometimes dropped, replaced by any JSON, or extra. */
const mutatedBooking = fc
  .tuple(
    fc.record(
      Object.fromEntries(
        Object.entries(field).map(([k, arb]) => [
          k,
          fc.oneof(
            { weight: 40, arbitrary: arb },
            { weight: 1, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
          ),
        ]),
      ),
    ),
    often(
      fc.constant(undefined),
      fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 2 }),
      5,
    ) as fc.Arbitrary<Record<string, unknown> | undefined>,
  )
  .map(([b, extra]) => withoutUndefined({ ...b, ...extra }));

const jsonType = fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON');
const otherType = fc.oneof(
  fc.constantFrom(
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
  ),
  fc.constantFrom('application/problem+json', 'application/json; charset=latin1'),
  fc.string({ unit: headerChar, maxLength: 30 }),
);

/** A body and its content-type: mostly JSON, sometimes not JSON at all, sometimes huge. */
const payload: fc.Arbitrary<[string, string]> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.tuple(
      mutatedBooking.map((b) => JSON.stringify(b)),
      jsonType,
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.jsonValue().map((v) => JSON.stringify(v) ?? 'null'),
      jsonType,
    ),
  },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 60 }), jsonType) },
  {
    weight: 1,
    arbitrary: fc.tuple(
      fc.string({ minLength: 15_000, maxLength: 20_000 }).map((s) => JSON.stringify({ subject: s })),
      jsonType,
    ),
  },
  {
    weight: 1,
    arbitrary: fc.tuple(
      mutatedBooking.map((b) => JSON.stringify(b)),
      otherType,
    ),
  },
);

const headers = fc
  .record({
    'idempotency-key': rarely(
      often(fc.string({ unit: keyChar, minLength: 1, maxLength: 8 }), headerValue, 4),
    ),
    'x-cancel-token': rarely(headerValue),
    authorization: rarely(
      fc.oneof(
        headerValue,
        headerValue.map((v) => `Bearer ${v}`),
        fc.constant(`Bearer ${OPS_TOKEN}`),
      ),
    ),
  })
  .map((h) => withoutUndefined(h) as Record<string, string>);

const reference = (known: string) =>
  fc
    .oneof(
      fc.constant(known),
      fc.stringMatching(/^RAP-[A-Z0-9]{6}$/),
      fc.string({ unit: 'grapheme', maxLength: 30 }),
    )
    .map((r) => encodeURIComponent(r))
    // Longer than the router's 100 is a known defect of its own (status.test.ts).
    .filter((r) => r.length > 0 && r.length <= 100);

const queryValue = fc.oneof(fc.string({ maxLength: 20 }), fc.integer().map(String));
const dates = fc.constantFrom(
  '2026-11-23',
  '2026-11-30',
  '2000-01-01',
  '2100-12-31',
  '2101-01-01',
  '2026-02-30',
);
const days = fc.constantFrom('1', '7', '15', '366', '367', '0', '-1', '1e3', '7.5');
const query = (withDomain: boolean) =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .record({
          domain: withDomain ? often(domain, queryValue, 4) : rarely(domain),
          from: rarely(often(dates, queryValue, 3)),
          days: rarely(often(days, queryValue, 3)),
          junk: fc.oneof(
            { weight: 6, arbitrary: fc.constant(undefined) },
            { weight: 1, arbitrary: queryValue },
          ),
        })
        .map((q) =>
          Object.entries(withoutUndefined(q))
            .map(([k, v]) => `${k}=${encodeURIComponent(String(v))}`)
            .join('&'),
        ),
    },
    { weight: 1, arbitrary: fc.string({ unit: urlChar, maxLength: 40 }) },
  );

export function requests(known: { reference: string; cancelToken: string }): fc.Arbitrary<InjectOptions> {
  const token = fc.oneof(fc.constant(known.cancelToken), headerValue);
  const cancelBody = fc.oneof(
    token.map((cancelToken) => JSON.stringify({ cancelToken })),
    payload.map(([b]) => b),
  );
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(payload, headers).map(([[body, type], h]) => ({
        method: 'POST' as const,
        url: '/v1/callbacks',
        payload: body,
        headers: { ...h, 'content-type': type },
      })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(reference(known.reference), headers, token).map(([ref, h, tok]) => ({
        method: 'GET' as const,
        url: `/v1/callbacks/${ref}`,
        headers: { 'x-cancel-token': tok, ...h },
      })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(reference(known.reference), cancelBody, jsonType).map(([ref, body, type]) => ({
        method: 'POST' as const,
        url: `/v1/callbacks/${ref}/cancel`,
        payload: body,
        headers: { 'content-type': type },
      })),
    },
    { weight: 2, arbitrary: query(true).map((q) => ({ method: 'GET' as const, url: `/v1/slots?${q}` })) },
    {
      weight: 2,
      arbitrary: query(false).map((q) => ({ method: 'GET' as const, url: `/v1/opening-hours?${q}` })),
    },
  );
}
