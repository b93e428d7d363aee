// The statements `seed` writes with, as the owner (the direct URL): one multi-row unnest INSERT per
// batch. Each statement counts only the turns it really inserted into their sessions, so message_count
// and last_active stay exact even when a batch is replayed (same --seed twice: ids conflict, nothing
// is counted twice).
import { interactionRollupCte, personalityRollupCte } from '../analytics/rollups.js'
import type { Queryable } from '../db/pool.js'
import type { EventBatch, TurnBatch } from './generate.js'

const ENSURE_PARTITION = 'SELECT robot_brain.ensure_month_partition($1, $2::date) AS created'

/** Monthly partitions of both partitioned tables for each month, so rows skip the default partition. */
export async function ensurePartitions(db: Queryable, months: readonly string[]): Promise<number> {
  let created = 0
  for (const month of months) {
    for (const parent of ['conversations', 'robot_interactions']) {
      const { rows } = await db.query<{ created: boolean }>({
        text: ENSURE_PARTITION,
        values: [parent, month],
      })
      if (rows[0]?.created) created++
    }
  }
  return created
}

// Sessions are upserted in id order, so two batches sharing a session lock it in the same order.
const INSERT_TURNS = `
WITH c AS (
  INSERT INTO robot_brain.conversations
    (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
  SELECT $1, i.*
  FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::timestamptz[])
    AS i(id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
  ON CONFLICT (tenant_id, id, created_at) DO NOTHING
  RETURNING tenant_id, session_id, robot_personality, user_message, robot_response, created_at
),
per_session AS (
  SELECT session_id, count(*)::integer AS n, min(created_at) AS first_at, max(created_at) AS last_at
  FROM c GROUP BY session_id
),
meta AS (
  SELECT * FROM unnest($9::text[], $10::jsonb[]) AS m(session_id, user_metadata)
),
s AS (
  INSERT INTO robot_brain.sessions AS s
    (tenant_id, id, user_metadata, created_at, last_active, message_count, turns_from, turns_to)
  SELECT $1, p.session_id, coalesce(m.user_metadata, '{}'::jsonb), p.first_at, p.last_at, p.n, p.first_at, p.last_at
  FROM per_session p LEFT JOIN meta m USING (session_id)
  ORDER BY p.session_id
  ON CONFLICT (tenant_id, id) DO UPDATE
    SET message_count = s.message_count + excluded.message_count,
        -- Batches run two at a time: the tail of a session may land before its head, which carries the metadata.
        user_metadata = s.user_metadata || excluded.user_metadata,
        last_active = greatest(s.last_active, excluded.last_active),
        created_at = least(s.created_at, excluded.created_at),
        -- The span of the session's turns (history reads only its partitions); unknown stays unknown.
        turns_from = CASE WHEN s.turns_from IS NULL AND s.message_count > 0 THEN NULL
                          ELSE least(s.turns_from, excluded.turns_from) END,
        turns_to = CASE WHEN s.turns_from IS NULL AND s.message_count > 0 THEN NULL
                        ELSE greatest(s.turns_to, excluded.turns_to) END
  RETURNING (xmax = 0) AS inserted
),
${personalityRollupCte('c', 's')}
SELECT (SELECT count(*) FROM c)::integer AS turns,
       (SELECT count(*) FROM s WHERE inserted)::integer AS sessions`

export interface TurnWrite {
  turns: number
  /** Sessions this batch created (not those it added turns to). */
  sessions: number
}

export async function insertTurnBatch(db: Queryable, tenant: string, b: TurnBatch): Promise<TurnWrite> {
  const { rows } = await db.query<TurnWrite>({
    text: INSERT_TURNS,
    values: [
      tenant,
      b.ids,
      b.sessionIds,
      b.personalities,
      b.userMessages,
      b.robotResponses,
      b.metadata,
      b.createdAt,
      b.newSessions.ids,
      b.newSessions.userMetadata,
    ],
  })
  return rows[0] ?? { turns: 0, sessions: 0 }
}

const INSERT_EVENTS = `
WITH ins AS (
  INSERT INTO robot_brain.robot_interactions
    (tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
  SELECT $1, i.*
  FROM unnest($2::uuid[], $3::text[], $4::text[], $5::integer[], $6::boolean[], $7::jsonb[], $8::timestamptz[])
    AS i(id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
  ON CONFLICT (tenant_id, id, created_at) DO NOTHING
  RETURNING tenant_id, robot_id, interaction_type, duration_ms, success, created_at
),
${interactionRollupCte('ins')}
SELECT count(*)::integer AS inserted FROM ins`

export async function insertEventBatch(db: Queryable, tenant: string, b: EventBatch): Promise<number> {
  const { rows } = await db.query<{ inserted: number }>({
    text: INSERT_EVENTS,
    values: [tenant, b.ids, b.robotIds, b.types, b.durations, b.success, b.metadata, b.createdAt],
  })
  return rows[0]?.inserted ?? 0
}
