// Turns: the write path (one statement per batch) and history (keyset pages, newest first).
//
// Every statement begins by calling robot_brain.use_tenant($1), and is shaped so that call runs before
// any policy-protected row is read or written: inserted rows flow from it, and reads are LATERAL
// subqueries parameterized by its result. So the tenant context costs no round trip of its own.
import type { Queryable } from '../db/pool.js'
import { type CursorKey, FAR_FUTURE_US } from './cursor.js'
import type { Turn } from './types.js'

export interface TurnRow {
  id: string
  session_id: string
  robot_personality: string
  user_message: string
  robot_response: string
  metadata: Record<string, unknown>
  created_at: Date
  created_us: string
}

export interface NewTurn {
  id: string
  sessionId: string
  robotPersonality: string
  userMessage: string
  robotResponse: string
  metadata: Record<string, unknown>
  createdAt: Date
}

const TURN_COLUMNS = `c.id::text AS id, c.session_id, c.robot_personality, c.user_message, c.robot_response,
  c.metadata, c.created_at, (extract(epoch FROM c.created_at) * 1000000)::bigint::text AS created_us`

/**
 * Inserts turns and counts them into their sessions, atomically, in one statement. A turn whose id is
 * already stored is skipped and counts nothing. Sessions are upserted in id order, so two batches
 * touching the same sessions lock them in the same order and cannot deadlock. Returns the inserted rows.
 */
const INSERT_TURNS = `
WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant($1) AS tenant_id),
input AS (
  SELECT ctx.tenant_id, i.*
  FROM ctx, unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::timestamptz[])
    AS i(id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
  -- The key holds created_at (the partition key), so a replay sent with another createdAt would not
  -- conflict: look the id up in every partition. LATERAL with LIMIT stays a per-row lookup run after ctx.
  LEFT JOIN LATERAL (
    SELECT true AS found FROM robot_brain.conversations x
    WHERE x.tenant_id = ctx.tenant_id AND x.id = i.id LIMIT 1
  ) stored ON true
  WHERE stored.found IS NULL
),
c AS (
  INSERT INTO robot_brain.conversations
    (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
  SELECT * FROM input
  ON CONFLICT (tenant_id, id, created_at) DO NOTHING
  RETURNING *
),
per_session AS (
  SELECT tenant_id, session_id, count(*)::integer AS n, min(created_at) AS first_at, max(created_at) AS last_at
  FROM c GROUP BY tenant_id, session_id
  ORDER BY session_id
),
s AS (
  INSERT INTO robot_brain.sessions AS s (tenant_id, id, created_at, last_active, message_count)
  SELECT tenant_id, session_id, first_at, last_at, n FROM per_session
  ON CONFLICT (tenant_id, id) DO UPDATE
    SET message_count = s.message_count + excluded.message_count,
        last_active = greatest(s.last_active, excluded.last_active)
  RETURNING s.id
)
SELECT ${TURN_COLUMNS} FROM c`

export async function insertTurns(db: Queryable, tenant: string, turns: NewTurn[]): Promise<TurnRow[]> {
  const { rows } = await db.query<TurnRow>({
    name: 'rb_insert_turns',
    text: INSERT_TURNS,
    values: [
      tenant,
      turns.map((t) => t.id),
      turns.map((t) => t.sessionId),
      turns.map((t) => t.robotPersonality),
      turns.map((t) => t.userMessage),
      turns.map((t) => t.robotResponse),
      turns.map((t) => JSON.stringify(t.metadata)),
      turns.map((t) => t.createdAt.toISOString()),
    ],
  })
  return rows
}

/** Stored turns by key: answers replays, whose insert skipped the row. */
const TURNS_BY_KEY = `
SELECT ${TURN_COLUMNS}
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.conversations c
  WHERE c.tenant_id = ctx.tenant_id AND c.id = ANY ($2::uuid[])
) c`

export async function turnsById(db: Queryable, tenant: string, ids: string[]): Promise<TurnRow[]> {
  const { rows } = await db.query<TurnRow>({
    name: 'rb_turns_by_id',
    text: TURNS_BY_KEY,
    values: [tenant, ids],
  })
  return rows
}

/** One page of a session's turns, newest first, strictly older than the cursor key. */
const HISTORY = `
SELECT ${TURN_COLUMNS}
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.conversations c
  WHERE c.tenant_id = ctx.tenant_id
    AND c.session_id = $2
    AND (c.created_at, c.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::uuid)
  ORDER BY c.created_at DESC, c.id DESC
  LIMIT $5
) c`

/** Above every stored key: the first page. */
const NEWEST: CursorKey = { us: FAR_FUTURE_US, id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' }

export async function historyPage(
  db: Queryable,
  tenant: string,
  sessionId: string,
  before: CursorKey | null,
  limit: number,
): Promise<TurnRow[]> {
  const key = before ?? NEWEST
  const { rows } = await db.query<TurnRow>({
    name: 'rb_history',
    text: HISTORY,
    values: [tenant, sessionId, key.us, key.id, limit],
  })
  return rows
}

export function toTurn(row: TurnRow): Turn {
  return {
    id: row.id,
    sessionId: row.session_id,
    robotPersonality: row.robot_personality,
    userMessage: row.user_message,
    robotResponse: row.robot_response,
    metadata: row.metadata,
    createdAt: new Date(row.created_at).toISOString(),
  }
}
