import { Type } from 'typebox';
import { DomainCode, InstantString, PATTERNS, WindowSchema } from './common.js';

/**
 * The last outcome a callback recorded: one of the four an informateur reports, or
 * `unreachable` once the last attempt went unanswered (`MAX_ATTEMPTS`) and it failed.
 */
export const StoredOutcome = Type.Union(
  [
    Type.Literal('reached'),
    Type.Literal('no_answer'),
    Type.Literal('wrong_number'),
    Type.Literal('redirected'),
    Type.Literal('unreachable'),
    Type.Null(),
  ],
  {
    description:
      "Dernier résultat : celui signalé par l'informateur, ou « unreachable » après la dernière tentative sans réponse (MAX_ATTEMPTS)",
  },
);

export const CreateCallbackBody = Type.Object(
  {
    domain: DomainCode,
    phone: Type.String({
      minLength: 1,
      maxLength: 40,
      description: 'Numéro français, toute écriture usuelle',
      examples: ['06 12 34 56 78'],
    }),
    mode: Type.Union([Type.Literal('slot'), Type.Literal('asap')]),
    slotStart: Type.Optional(InstantString),
    ficheId: Type.Optional(
      Type.String({
        pattern: PATTERNS.ficheId.pattern,
        description: 'Fiche service-public (F1234, N19806, R42946)',
      }),
    ),
    subject: Type.Optional(Type.String({ maxLength: 500 })),
    consent: Type.Literal(true, { description: 'Consentement au rappel, obligatoirement true' }),
  },
  { additionalProperties: false, $id: 'CallbackRequest' },
);

export const CreatedCallback = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    reference: Type.String({ examples: ['RAP-7K3Q9D'] }),
    status: Type.Union([Type.Literal('scheduled'), Type.Literal('queued')]),
    domain: DomainCode,
    mode: Type.Union([Type.Literal('slot'), Type.Literal('asap')]),
    window: WindowSchema,
    cancelToken: Type.String({ description: 'Affiché une seule fois' }),
  },
  { $id: 'CreatedCallback' },
);

export const CallbackStatusSchema = Type.Union(
  ['scheduled', 'queued', 'assigned', 'completed', 'failed', 'cancelled'].map((s) => Type.Literal(s)),
);

export const CitizenCallbackView = Type.Object(
  {
    reference: Type.String(),
    status: CallbackStatusSchema,
    domain: DomainCode,
    mode: Type.Union([Type.Literal('slot'), Type.Literal('asap')]),
    window: WindowSchema,
    phone: Type.String({ description: 'Numéro masqué', examples: ['06 •• •• •• 78'] }),
    nextAttemptAt: Type.Union([InstantString, Type.Null()], {
      description: 'Prochaine tentative, pour un rappel en attente après un appel sans réponse',
    }),
    id: Type.Optional(Type.String()),
    attempts: Type.Optional(Type.Integer()),
    ficheId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    carriedOver: Type.Optional(Type.Boolean()),
    outcome: Type.Optional(StoredOutcome),
    redirectedTo: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    createdAt: Type.Optional(InstantString),
    updatedAt: Type.Optional(InstantString),
    history: Type.Optional(
      Type.Array(
        Type.Object({
          type: Type.String(),
          from: Type.Union([Type.String(), Type.Null()]),
          to: Type.Union([Type.String(), Type.Null()]),
          actor: Type.String(),
          at: InstantString,
          data: Type.Record(Type.String(), Type.Unknown()),
        }),
      ),
    ),
  },
  {
    $id: 'CallbackView',
    description: 'Vue citoyen ; les champs optionnels ne sont donnés qu’avec le jeton d’exploitation',
  },
);

export const ReferenceParams = Type.Object({
  reference: Type.String({
    maxLength: 64,
    description:
      'Référence du rappel, telle que le citoyen la lit : majuscules ou minuscules, espaces et tiret facultatifs, « RAP » facultatif',
    examples: ['RAP-7K3Q9D'],
  }),
});
