import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppDeps } from '../../app.js';
import { DateString, DomainCode, errors, InstantString, problems, described } from '../schemas/common.js';
import { emptyFiltersAreAbsent } from '../query.js';
import { ZONE } from '../../domain/calendar/index.js';

/**
 * Sends a body already serialized as JSON: a string with a JSON content type skips the
 * response serializer (the typed reply only knows the schema's object, hence the plain type).
 */
function sendSerialized(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}

const DomainSchema = Type.Object(
  { code: DomainCode, label: Type.String(), description: Type.String() },
  { $id: 'Domain' },
);

const DaySchema = Type.Object(
  {
    date: DateString,
    open: Type.Boolean(),
    intervals: Type.Array(Type.Object({ start: InstantString, end: InstantString })),
    closedReason: Type.Union([
      Type.Null(),
      Type.Literal('weekend'),
      Type.Literal('holiday'),
      Type.Literal('closure'),
    ]),
    label: Type.Union([Type.Null(), Type.String()]),
  },
  { $id: 'OpeningDay' },
);

const SlotSchema = Type.Object(
  { start: InstantString, end: InstantString, remaining: Type.Integer({ minimum: 1 }) },
  { $id: 'Slot' },
);

/** Days /v1/opening-hours shows without `days` (contract). Optional in the document too. */
const OPENING_HOURS_DAYS = 7;

/**
 * What shared caches (a CDN, a proxy) and browsers may keep of the public calendar: the domains an
 * hour; the opening hours a minute (a closure set by ops shows within it); the slots must be
 * asked again each time (their remaining places change with every booking). Every other answer
 * is `no-store` (app.ts): a callback's status, read with its cancel token, must never be served
 * to someone else by a cache.
 */
const CACHE = {
  domains: 'public, max-age=3600',
  openingHours: 'public, max-age=60',
  slots: 'no-cache',
} as const;

export function calendarRoutes(deps: AppDeps): FastifyPluginAsync {
  const { calendar } = deps.services;
  return async (fastify) => {
    const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
    app.addSchema(DomainSchema);
    app.addSchema(DaySchema);
    app.addSchema(SlotSchema);

    app.get(
      '/v1/domains',
      {
        schema: {
          tags: ['public'],
          operationId: 'listDomains',
          summary: 'Les domaines traités par les informateurs',
          response: {
            200: Type.Array(Type.Ref('Domain'), { description: 'Les quatre domaines' }),
            ...problems('SERVICE_UNAVAILABLE'),
          },
        },
      },
      async (_req, reply) => {
        reply.header('cache-control', CACHE.domains);
        return [...calendar.domains()];
      },
    );

    app.get(
      '/v1/opening-hours',
      {
        preValidation: emptyFiltersAreAbsent,
        schema: {
          tags: ['public'],
          operationId: 'getOpeningHours',
          summary: "Horaires d'ouverture du centre de Metz, jour par jour",
          querystring: Type.Object(
            {
              from: Type.Optional(DateString),
              days: Type.Optional(
                Type.Integer({
                  minimum: 1,
                  maximum: 366,
                  default: OPENING_HOURS_DAYS,
                  description: 'Nombre de jours à partir de « from »',
                }),
              ),
            },
            // Other parameters are ignored: a page's script may add its own (jQuery's
            // `cache: false` adds `_=<time>` to every GET).
            { additionalProperties: true },
          ),
          response: {
            200: described(
              'Jours demandés, avec leurs heures d’ouverture',
              Type.Object({
                timezone: Type.String({ examples: [ZONE] }),
                days: Type.Array(Type.Ref('OpeningDay')),
              }),
            ),
            ...errors(),
          },
        },
      },
      async (req, reply) => {
        const days = await calendar.openingHours(req.query.from, req.query.days ?? OPENING_HOURS_DAYS);
        reply.header('cache-control', CACHE.openingHours);
        return { timezone: ZONE, days };
      },
    );

    app.get(
      '/v1/slots',
      {
        preValidation: emptyFiltersAreAbsent,
        schema: {
          tags: ['public'],
          operationId: 'listSlots',
          summary: "Créneaux de rappel réservables d'un domaine",
          querystring: Type.Object(
            {
              domain: DomainCode,
              from: Type.Optional(DateString),
              days: Type.Optional(
                Type.Integer({
                  minimum: 1,
                  maximum: 366,
                  description:
                    'Nombre de jours à partir de « from » (par défaut : jusqu’à l’horizon de réservation)',
                }),
              ),
            },
            // Other parameters are ignored: a page's script may add its own (jQuery's
            // `cache: false` adds `_=<time>` to every GET).
            { additionalProperties: true },
          ),
          response: {
            200: described(
              'Créneaux réservables, dans l’ordre du temps',
              Type.Object({
                domain: DomainCode,
                timezone: Type.String({ examples: [ZONE] }),
                slots: Type.Array(Type.Ref('Slot')),
              }),
            ),
            ...errors(),
          },
        },
      },
      async (req, reply) => {
        const { domain, from, days } = req.query;
        // From the process's cache: already the serialized body (same bytes as the schema's).
        const json = await calendar.slotsJson(domain, from, days);
        // Set once the listing is had: a refusal (400, 503) stays no-store.
        if (json !== null) return sendSerialized(reply.header('cache-control', CACHE.slots), json);
        const slots = await calendar.slots(domain, from, days);
        reply.header('cache-control', CACHE.slots);
        return { domain, timezone: ZONE, slots };
      },
    );
  };
}
