// JSON Schema (TypeBox) of GET /monitoring: the monitoring report, the embedding backlog and the
// interaction buffer. Documents the route in /openapi.json and shapes its serialization.
import { type TSchema, Type } from '@sinclair/typebox'

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])
const Time = Nullable(Type.String({ format: 'date-time' }))

const Connections = Type.Object({
  limit: Type.Integer({ description: 'max_connections' }),
  reserved: Type.Integer({ description: 'superuser_reserved_connections' }),
  total: Type.Integer({ description: 'Client connections open now, every database.' }),
  byState: Type.Record(Type.String(), Type.Integer(), {
    description: 'By pg_stat_activity.state; `unknown` for sessions this role may not see.',
  }),
  thisDatabase: Type.Integer(),
})

const Statement = Type.Object({
  queryid: Type.String(),
  query: Type.String({ description: 'Normalized text ($n placeholders), at most 500 characters.' }),
  calls: Type.Number(),
  meanMs: Type.Number(),
  maxMs: Type.Number(),
  totalMs: Type.Number(),
  rows: Type.Number(),
})

const Relation = Type.Object({
  name: Type.String(),
  parent: Nullable(Type.String()),
  tableBytes: Nullable(
    Type.Number({ description: 'Null while an exclusive lock is held or awaited on it.' }),
  ),
  indexBytes: Nullable(Type.Number()),
  liveTuples: Type.Number(),
  deadTuples: Type.Number(),
  lastVacuum: Time,
  lastAutovacuum: Time,
  lastAnalyze: Time,
  lastAutoanalyze: Time,
})

const Lock = Type.Object({
  pid: Type.Integer(),
  locktype: Type.String(),
  mode: Type.String(),
  relation: Nullable(Type.String()),
  waitingSeconds: Type.Number(),
  blockedBy: Type.Array(Type.Integer()),
  query: Type.String(),
})

const Buffer = Type.Object({
  pending: Type.Integer({ description: 'Events in memory, waiting to be written.' }),
  written: Type.Integer(),
  inserted: Type.Integer(),
  rejected: Type.Integer(),
  retriedBatches: Type.Integer(),
  fullRefusals: Type.Integer(),
  shareRefusals: Type.Integer(),
})

const Replica = Type.Object({
  configured: Type.Boolean(),
  up: Nullable(Type.Boolean()),
  lagMs: Nullable(Type.Number()),
  maxLagMs: Type.Number(),
  serving: Type.Boolean({ description: 'Whether reads that may use the replica do now.' }),
  reads: Type.Object({ replica: Type.Integer(), primary: Type.Integer(), fallbacks: Type.Integer() }),
  reason: Type.Optional(Type.String()),
})

export const MonitoringResponse = Type.Object({
  connections: Nullable(Connections),
  slowQueries: Type.Object({
    available: Type.Boolean(),
    reason: Type.Optional(
      Type.String({ description: 'Why unavailable, and how to enable pg_stat_statements.' }),
    ),
    statements: Type.Array(Statement),
  }),
  cacheHitRatio: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  cacheBlocks: Type.Object({ hits: Type.Number(), reads: Type.Number() }),
  relations: Type.Array(Relation),
  waitingLocks: Nullable(Type.Array(Lock)),
  notApplicable: Type.Array(Type.String()),
  embeddingBacklog: Nullable(Type.Integer({ description: 'Turns waiting for a vector (all tenants).' })),
  interactionBuffer: Nullable(Buffer),
  replicaLagSeconds: Nullable(
    Type.Number({ description: 'Null without a replica, or while its lag is unknown.' }),
  ),
  replica: Nullable(Replica),
})
