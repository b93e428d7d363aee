// Query and answer schemas of /v1/analytics/* (TypeBox → JSON Schema → /openapi.json). Limits come
// from the analytics module; the store checks the range again (from after to, over 5 years, too many
// buckets) and its ValidationError names the field the same way.
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { MAX_FAILURES } from '../analytics/analytics.js'
import { MAX_BUCKETS } from '../analytics/range.js'

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Range = {
  from: Type.Optional(
    Type.String({
      format: 'date-time',
      description:
        'Start, inclusive; default 30 days before `to`. ISO 8601 with an offset, e.g. 2026-01-31T09:00:00-03:00.',
    }),
  ),
  to: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'End, exclusive; default now; at most 5 years after `from`. ISO 8601 with an offset.',
    }),
  ),
  bucket: Type.Optional(
    Type.Union([Type.Literal('hour'), Type.Literal('day'), Type.Literal('week'), Type.Literal('month')], {
      description: `Also give figures per hour, day, week (ISO, from Monday) or month, in UTC; at most ${MAX_BUCKETS} buckets.`,
    }),
  ),
}

export const PersonalityAnalyticsQuery = Type.Object(Range, { additionalProperties: false })
export type PersonalityAnalyticsQuery = Static<typeof PersonalityAnalyticsQuery>

export const InteractionAnalyticsQuery = Type.Object(
  {
    ...Range,
    groupBy: Type.Optional(
      Type.Union([Type.Literal('robotId'), Type.Literal('interactionType')], {
        description: 'Default robotId.',
      }),
    ),
    failures: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_FAILURES,
        description: `Also list this many of the newest failed events of the range (0 to ${MAX_FAILURES}, default 0).`,
      }),
    ),
  },
  { additionalProperties: false },
)
export type InteractionAnalyticsQuery = Static<typeof InteractionAnalyticsQuery>

const Window = {
  from: Type.String({ format: 'date-time', description: 'The range used, UTC.' }),
  to: Type.String({ format: 'date-time' }),
  bucket: Nullable(Type.String()),
}

const PersonalityFigures = {
  turns: Type.Integer(),
  sessions: Type.Integer({ description: 'Distinct sessions with a turn of this personality in the range.' }),
  avgUserMessageLength: Nullable(Type.Number({ description: 'Characters.' })),
  avgResponseLength: Nullable(
    Type.Number({ description: 'Characters, over answered turns; null when none is answered.' }),
  ),
}

export const PersonalityAnalytics = Type.Object({
  ...Window,
  personalities: Type.Array(
    Type.Object({
      robotPersonality: Type.String(),
      ...PersonalityFigures,
      buckets: Type.Array(
        Type.Object({ start: Type.String({ format: 'date-time' }), ...PersonalityFigures }),
        { description: 'Buckets holding turns, oldest first; empty without `bucket`.' },
      ),
    }),
    { description: 'Most turns first.' },
  ),
})

const InteractionFigures = {
  count: Type.Integer(),
  successes: Type.Integer(),
  successRate: Nullable(Type.Number()),
  durationMs: Type.Object(
    {
      avg: Nullable(Type.Number()),
      p50: Nullable(Type.Number()),
      p95: Nullable(Type.Number()),
      p99: Nullable(Type.Number()),
      max: Nullable(Type.Number()),
    },
    {
      description:
        'avg and max exact; p50, p95, p99 within 1% of the exact nearest-rank percentile (from duration sketches).',
    },
  ),
}

export const InteractionAnalytics = Type.Object({
  ...Window,
  groupBy: Type.String(),
  groups: Type.Array(
    Type.Object({
      key: Type.String({ description: 'The robotId or interactionType.' }),
      ...InteractionFigures,
      buckets: Type.Array(
        Type.Object({ start: Type.String({ format: 'date-time' }), ...InteractionFigures }),
        {
          description: 'Buckets holding events, oldest first; empty without `bucket`.',
        },
      ),
    }),
    { description: 'Most events first.' },
  ),
  latestFailures: Type.Optional(
    Type.Array(
      Type.Object({
        id: Type.String({ format: 'uuid' }),
        robotId: Type.String(),
        interactionType: Type.String(),
        durationMs: Type.Integer(),
        metadata: Type.Object({}, { additionalProperties: true }),
        createdAt: Type.String({ format: 'date-time' }),
      }),
      { description: 'With `failures`: the newest failed events of the range, newest first.' },
    ),
  ),
})
