// Request and response schemas of the /v1 API (TypeBox → JSON Schema). The same objects validate
// requests and generate /openapi.json. Every number comes from LIMITS; the store checks again
// (byte sizes of metadata, UUID versions) and its ValidationError names the field the same way.
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { CONTEXT_LIMITS } from '../search/context.js'
import { SEARCH_LIMITS } from '../search/filters.js'
import { LIMITS } from '../store/limits.js'

/** No control characters (identifiers), and no NUL (free text): PostgreSQL text cannot hold NUL. */
export const NO_CONTROL_CHARS = '^[^\\u0000-\\u001f\\u007f-\\u009f]*$'
export const NO_NUL = '^[^\\u0000]*$'

/** What a failed `pattern` means, for error messages that do not quote regular expressions. */
export const PATTERN_MESSAGES: Record<string, string> = {
  [NO_CONTROL_CHARS]: 'must not contain control characters',
  [NO_NUL]: 'must not contain the NUL character',
}

const identifier = (max: number, description: string) =>
  Type.String({ minLength: 1, maxLength: max, pattern: NO_CONTROL_CHARS, description })

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const SessionId = identifier(LIMITS.sessionIdMax, 'The session id, chosen by the client.')
const Personality = identifier(LIMITS.nameMax, 'Which personality of the robot answered.')
const message = (description?: string) =>
  Type.String({ maxLength: LIMITS.messageMax, pattern: NO_NUL, ...(description ? { description } : {}) })
const Message = message()
const metadata = (what = '') =>
  Type.Object(
    {},
    {
      additionalProperties: true,
      description: `A JSON object of at most ${LIMITS.metadataBytes} bytes serialized.${what ? ` ${what}` : ''}`,
    },
  )
const Metadata = metadata()
const Id = Type.String({
  format: 'uuid',
  description: 'Client-generated UUID (idempotency key); a UUIDv7 unless createdAt is given.',
})
const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, e.g. 2026-01-31T12:00:00Z' })
const cursor = (description = 'A nextCursor from an earlier page.') =>
  Type.String({ minLength: 1, maxLength: LIMITS.cursorMaxChars, description })
const Cursor = cursor()
const limit = (max: number, fallback: number) =>
  Type.Integer({ minimum: 1, maximum: max, description: `1 to ${max}, default ${fallback}.` })

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable machine-readable code, e.g. validation_failed.' }),
      message: Type.String({ description: 'What went wrong, naming the field when one is at fault.' }),
      turnId: Type.Optional(
        Type.String({
          format: 'uuid',
          description:
            'On a 503 from storing a turn: its id (made by the server when the request had none). The ' +
            'turn may or may not be stored; send it again with this id and it is stored exactly once.',
        }),
      ),
    }),
  },
  { description: 'Every error answer has this shape.' },
)

export const SessionParams = Type.Object({ sessionId: SessionId }, { additionalProperties: false })
export type SessionParams = Static<typeof SessionParams>

const userId = (description = 'The user the session belongs to, chosen by the client.') =>
  identifier(LIMITS.userIdMax, description)
export const UserId = userId()

export const TurnParams = Type.Object(
  { sessionId: SessionId, turnId: Type.String({ format: 'uuid', description: 'The turn id.' }) },
  { additionalProperties: false },
)
export type TurnParams = Static<typeof TurnParams>

export const TurnBody = Type.Object(
  {
    robotPersonality: Personality,
    userMessage: Message,
    robotResponse: Type.Optional(
      Nullable(
        message(
          'The answer. Omitted or null: the turn awaits its answer, added later by PATCH .../turns/{turnId}.',
        ),
      ),
    ),
    metadata: Type.Optional(Metadata),
    userId: Type.Optional(userId("The session's user: set on the session when it has none.")),
    id: Type.Optional(Id),
    createdAt: Type.Optional(Timestamp),
    embedding: Type.Optional(
      Type.Object(
        {
          model: Type.String({ minLength: 1, maxLength: 200, pattern: NO_CONTROL_CHARS }),
          vector: Type.Array(Type.Number(), { minItems: 1, maxItems: 16000 }),
        },
        {
          additionalProperties: false,
          description: 'A vector computed by the client, stored with its model name for semantic search.',
        },
      ),
    ),
  },
  { additionalProperties: false },
)
export type TurnBody = Static<typeof TurnBody>

export const Turn = Type.Object({
  id: Type.String({ format: 'uuid' }),
  sessionId: Type.String(),
  robotPersonality: Type.String(),
  userMessage: Type.String(),
  robotResponse: Nullable(Type.String({ description: 'null while the turn awaits its answer.' })),
  metadata: Metadata,
  createdAt: Timestamp,
})

export const CompleteTurnBody = Type.Object(
  {
    robotResponse: message('The answer.'),
    metadata: Type.Optional(metadata("Merged into the turn's metadata.")),
  },
  { additionalProperties: false },
)
export type CompleteTurnBody = Static<typeof CompleteTurnBody>

export const HistoryQuery = Type.Object(
  {
    limit: Type.Optional(limit(LIMITS.historyLimitMax, LIMITS.historyLimitDefault)),
    order: Type.Optional(
      Type.Union([Type.Literal('desc'), Type.Literal('asc')], {
        description: 'desc (default): newest first, page with before. asc: oldest first, page with after.',
      }),
    ),
    before: Type.Optional(cursor('order=desc: a nextCursor from an earlier page.')),
    after: Type.Optional(cursor('order=asc: a nextCursor from an earlier page.')),
  },
  { additionalProperties: false },
)
export type HistoryQuery = Static<typeof HistoryQuery>

export const HistoryPage = Type.Object({
  turns: Type.Array(Turn, { description: 'Newest first, or oldest first with order=asc.' }),
  nextCursor: Nullable(
    Type.String({
      description:
        'Pass as `before` (order=desc) or `after` (order=asc) for the next page; null on the last.',
    }),
  ),
})

export const MessagesQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: LIMITS.historyLimitMax,
        description: `Turns (not messages): the newest ones. 1 to ${LIMITS.historyLimitMax}, default ${LIMITS.historyLimitDefault}.`,
      }),
    ),
    before: Type.Optional(Cursor),
    maxTokens: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: LIMITS.maxTokensMax,
        description:
          'Drops the oldest turns until the count fits: o200k_base tokens per content (gpt-tokenizer), plus 4 per message.',
      }),
    ),
  },
  { additionalProperties: false },
)
export type MessagesQuery = Static<typeof MessagesQuery>

export const ChatMessage = Type.Object({
  role: Type.Union([Type.Literal('user'), Type.Literal('assistant')]),
  content: Type.String(),
  turnId: Type.String({ format: 'uuid' }),
  createdAt: Timestamp,
})

export const MessagesPage = Type.Object({
  messages: Type.Array(ChatMessage, {
    description: "Oldest first: each turn's user message, then its answer when it has one.",
  }),
  nextCursor: Nullable(
    Type.String({
      description: 'Pass as `before` for the turns older than these; null when there are none.',
    }),
  ),
})

export const Session = Type.Object({
  id: Type.String(),
  userId: Nullable(Type.String({ description: 'The user the session belongs to.' })),
  userMetadata: Metadata,
  createdAt: Timestamp,
  lastActive: Timestamp,
  messageCount: Type.Integer(),
})

export const SessionPatch = Type.Object(
  {
    userMetadata: Type.Optional(metadata('Merged: top-level keys replace those stored.')),
    userId: Type.Optional(Nullable(UserId)),
  },
  { additionalProperties: false, minProperties: 1 },
)
export type SessionPatch = Static<typeof SessionPatch>

export const SessionPut = Type.Object(
  {
    userId: Type.Optional(Nullable(UserId)),
    userMetadata: Type.Optional(metadata('Replaces the stored userMetadata.')),
  },
  { additionalProperties: false },
)
export type SessionPut = Static<typeof SessionPut>

export const ListSessionsQuery = Type.Object(
  {
    limit: Type.Optional(limit(LIMITS.listLimitMax, LIMITS.listLimitDefault)),
    cursor: Type.Optional(Cursor),
    activeSince: Type.Optional(Timestamp),
    userId: Type.Optional(userId('Only the sessions of this user.')),
    robotPersonality: Type.Optional(
      identifier(LIMITS.nameMax, 'Only sessions with at least one turn of this robot personality.'),
    ),
  },
  { additionalProperties: false },
)
export type ListSessionsQuery = Static<typeof ListSessionsQuery>

export const SessionPage = Type.Object({
  sessions: Type.Array(Session, { description: 'Most recently active first.' }),
  nextCursor: Nullable(Type.String({ description: 'Pass as `cursor` for the next page; null on the last.' })),
})

export const InteractionEvent = Type.Object(
  {
    robotId: identifier(LIMITS.nameMax, 'The robot.'),
    interactionType: identifier(LIMITS.nameMax, 'What kind of interaction.'),
    durationMs: Type.Integer({ minimum: 0, maximum: 2_147_483_647 }),
    success: Type.Boolean(),
    metadata: Type.Optional(Metadata),
    id: Type.Optional(Id),
    createdAt: Type.Optional(Timestamp),
  },
  { additionalProperties: false },
)

export const InteractionsBody = Type.Object(
  { events: Type.Array(InteractionEvent, { minItems: 1, maxItems: LIMITS.eventsPerBatchMax }) },
  { additionalProperties: false },
)
export type InteractionsBody = Static<typeof InteractionsBody>

export const Accepted = Type.Object({
  accepted: Type.Integer({ description: 'Events accepted; a replayed id counts but is not stored twice.' }),
})

const searchFilters = {
  mode: Type.Optional(
    Type.Union([Type.Literal('fulltext'), Type.Literal('semantic'), Type.Literal('hybrid')], {
      description: 'Default: hybrid where embeddings of the configured model exist, else fulltext.',
    }),
  ),
  sessionId: Type.Optional(SessionId),
  userId: Type.Optional(identifier(SEARCH_LIMITS.userIdMax, "Only turns of this user's sessions.")),
  robotPersonality: Type.Optional(Personality),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive, ISO 8601.' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Exclusive, ISO 8601.' })),
  limit: Type.Optional(limit(SEARCH_LIMITS.limitMax, SEARCH_LIMITS.limitDefault)),
}
const searchText = (description: string) =>
  Type.String({ minLength: 1, maxLength: SEARCH_LIMITS.queryMax, pattern: NO_NUL, description })
const SearchText = searchText('What to find. Full text takes web-search syntax: "a phrase", -word, or.')

export const SearchQuery = Type.Object({ q: SearchText, ...searchFilters }, { additionalProperties: false })
export type SearchQuery = Static<typeof SearchQuery>

export const SearchBody = Type.Object(
  {
    q: SearchText,
    ...searchFilters,
    metadata: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description: 'Containment filter: turns whose metadata holds these keys and values.',
        },
      ),
    ),
  },
  { additionalProperties: false },
)
export type SearchBody = Static<typeof SearchBody>

export const SearchResults = Type.Object({
  results: Type.Array(
    Type.Object({
      turn: Turn,
      score: Type.Number({ description: 'Higher is better; comparable within one answer.' }),
      snippet: Type.String({ description: 'The matching text, matches marked **like this**.' }),
      ranks: Type.Object({
        fulltext: Nullable(
          Type.Integer({ description: 'Rank in the full-text arm (1 = best); null: not found by it.' }),
        ),
        semantic: Nullable(Type.Integer({ description: 'Rank in the semantic arm; null: not found by it.' })),
      }),
    }),
    { description: 'Best first.' },
  ),
  mode: Type.Union([Type.Literal('fulltext'), Type.Literal('semantic'), Type.Literal('hybrid')], {
    description: 'The mode that answered.',
  }),
})

export const ContextQuery = Type.Object(
  {
    maxTokens: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: CONTEXT_LIMITS.maxTokensMax,
        description: `Token budget (o200k_base), default ${CONTEXT_LIMITS.maxTokensDefault}.`,
      }),
    ),
    query: Type.Optional(searchText('Adds older turns of the same user (or session) that match it.')),
  },
  { additionalProperties: false },
)
export type ContextQuery = Static<typeof ContextQuery>

export const ContextResult = Type.Object({
  recent: Type.Array(Turn, { description: 'The newest turns that fit the budget, oldest first.' }),
  relevant: Type.Array(Type.Object({ turn: Turn, score: Type.Number() }), {
    description: 'Older turns matching the query, best first.',
  }),
  tokens: Type.Integer({ description: 'Tokens of recent and relevant together, within maxTokens.' }),
})

/** The error answers a /v1 route may give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]): Record<number, unknown> {
  const descriptions: Record<number, string> = {
    400: 'Invalid input (or a body that is not JSON); the message names the field.',
    401: 'Missing, unknown or revoked API key.',
    403: "Beyond the API key's scope (read: GET only; write; admin: also users, audit, keys), or, without API keys, a Host or Origin that is not loopback (see the README, Security).",
    404: 'Not found.',
    408: 'The request (headers and body) did not arrive within the request timeout.',
    409: 'Conflict: the id is already used with other content, or the turn already has another answer.',
    413: 'Request body over 1 MiB.',
    415: 'The body is not JSON (send Content-Type: application/json).',
    429:
      "Too many requests: this API key's request rate, this tenant's share of heavy requests in flight, " +
      'or the connections from this address. Retry after the Retry-After header.',
    501: 'Not implemented yet in this version.',
    503:
      'Temporarily unavailable (database unreachable, event buffer full, server busy); retry after ' +
      'the Retry-After header. The message quotes the request id; details stay in the server log.',
  }
  return Object.fromEntries(
    [...new Set([400, 401, 403, 429, 503, ...statuses])].map((s) => [
      s,
      { ...ErrorBody, description: descriptions[s] ?? 'Error.' },
    ]),
  )
}
