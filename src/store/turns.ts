// Turns: the write path (one statement per batch), history (keyset pages, either order), completing a
// turn stored without its answer, and deleting one turn.
//
// Every statement begins by calling robot_brain.use_tenant($1), and is shaped so that call runs before
// any policy-protected row is read or written: inserted rows flow from it, and reads are LATERAL
// subqueries parameterized by its result. So the tenant context costs no round trip of its own.
import type { Queryable } from '../db/pool.js'
import { type CursorKey, FAR_FUTURE_US } from './cursor.js'
import { LIMITS } from './limits.js'
import type { Turn } from './types.js'

export interface TurnRow {
  id: string
  session_id: string
  robot_personality: string
  user_message: string
  /** null: the turn awaits its answer. */
  robot_response: string | null
  metadata: Record<string, unknown>
  created_at: Date
  created_us: string
}

/** A row of the write path: inserted now (created) or already stored under that id (a replay). */
export interface WrittenRow extends TurnRow {
  created: boolean
}

export interface NewTurn {
  id: string
  sessionId: string
  robotPersonality: string
  userMessage: string
  robotResponse: string | null
  metadata: Record<string, unknown>
  createdAt: Date
  /** Fills the session's userId when it has none. */
  userId: string | null
}

export const TURN_COLUMNS = `c.id::text AS id, c.session_id, c.robot_personality, c.user_message, c.robot_response,
  c.metadata, c.created_at, (extract(epoch FROM c.created_at) * 1000000)::bigint::text AS created_us`

/**
 * Inserts turns and counts them into their sessions, atomically, in one statement: the function
 * robot_brain.insert_turns (migration 0019, which holds the statement and says what each part does).
 * Each turn first claims its id in turn_ids (migration 0009), whose key is the id alone: a turn whose
 * id is stored already, with any createdAt, or earlier in the same batch, claims nothing and is not
 * inserted, so it is missing from what the statement returns, and the caller reads the stored row (a
 * replay: rare, a second round trip). Two statements claiming one id meet in that unique index: the
 * second waits and skips. No partition is searched for the id, so the cost of a turn does not grow with
 * the months kept. Sessions are upserted in id order, so two batches touching the same sessions lock
 * them in the same order and cannot deadlock; their span of turn times grows to hold the new turns.
 * The inserted turns are added to the personality rollups in the same statement.
 * A function, so its plan is made once per server connection also through a pooler that keeps no
 * prepared statements (planning the statement cost more than running it).
 */
const INSERT_TURNS = `
SELECT ${TURN_COLUMNS}, true AS created
FROM robot_brain.insert_turns($1, $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[],
  $8::timestamptz[], $9::text[]) c`

export async function insertTurns(db: Queryable, tenant: string, turns: NewTurn[]): Promise<WrittenRow[]> {
  const { rows } = await db.query<WrittenRow>({
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
      turns.map((t) => t.userId),
    ],
  })
  return rows
}

/**
 * Stored turns by id: answers replays, whose insert skipped the row. The id's key in turn_ids gives
 * the row's created_at, so only the partition that holds it is read (pruned when the probe runs, with
 * a generic or a custom plan), however many months are kept. Until the 0009 backfill ends
 * (turn_ids_complete() false) a turn stored before it may have no key yet: the second branch then
 * looks for such ids in every partition; once it says true, that branch folds away from the plan.
 */
const TURNS_BY_KEY = `
SELECT ${TURN_COLUMNS}
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT c.* FROM robot_brain.turn_ids k
  CROSS JOIN LATERAL (
    SELECT * FROM robot_brain.conversations c
    WHERE c.tenant_id = k.tenant_id AND c.id = k.id AND c.created_at = k.created_at
    LIMIT 1 -- not pulled up into a join: a probe per key, pruned to its partition when it runs
  ) c
  WHERE k.tenant_id = ctx.tenant_id AND k.id = ANY ($2::uuid[])
  UNION ALL
  SELECT c.* FROM robot_brain.conversations c
  WHERE NOT robot_brain.turn_ids_complete() AND c.tenant_id = ctx.tenant_id AND c.id = ANY ($2::uuid[])
    AND NOT EXISTS (SELECT FROM robot_brain.turn_ids k WHERE k.tenant_id = c.tenant_id AND k.id = c.id)
) c`

export async function turnsById(db: Queryable, tenant: string, ids: string[]): Promise<TurnRow[]> {
  const { rows } = await db.query<TurnRow>({
    name: 'rb_turns_by_id',
    text: TURNS_BY_KEY,
    values: [tenant, ids],
  })
  return rows
}

/**
 * One page of a session's turns in key order (robot_brain.history_page, migration 0009): newest first
 * below the cursor key, or oldest first above it; at most $5 rows and no row that starts past $6 bytes
 * of text. `fetched` counts the rows before the byte cut, so the caller knows more exist. A function,
 * so its statements are parsed once per server connection even through a pooler that keeps no
 * prepared statements; it reads only the partitions inside the session's span of turn times.
 */
const HISTORY = `
SELECT ${TURN_COLUMNS}, c.fetched
FROM robot_brain.history_page($1, $2, $3::bigint, $4::uuid, $5, $6, $7) c`

/** Above every stored key: the first page, newest first. */
const NEWEST: CursorKey = { us: FAR_FUTURE_US, id: 'ffffffff-ffff-ffff-ffff-ffffffffffff' }
/**
 * Below every stored key: the first page, oldest first. About 1200 BC in microseconds: before any
 * createdAt the store accepts (1970 on), and well inside timestamptz's range (4713 BC on).
 */
const OLDEST: CursorKey = { us: '-100000000000000000', id: '00000000-0000-0000-0000-000000000000' }

export type HistoryOrder = 'asc' | 'desc'

/** Rows of a page; each carries `fetched`, the rows the row limit alone gave (more: a byte cut). */
export async function historyPage(
  db: Queryable,
  tenant: string,
  sessionId: string,
  from: CursorKey | null,
  limit: number,
  order: HistoryOrder = 'desc',
  maxBytes: number = LIMITS.historyPageBytes,
): Promise<Array<TurnRow & { fetched: string }>> {
  const key = from ?? (order === 'asc' ? OLDEST : NEWEST)
  const { rows } = await db.query<TurnRow & { fetched: string }>({
    name: 'rb_history_page',
    text: HISTORY,
    values: [tenant, sessionId, key.us, key.id, limit, maxBytes, order === 'asc'],
  })
  return rows
}

export type CompleteOutcome = 'completed' | 'unchanged' | 'conflict' | 'too_large'

/** Adds the answer to a turn stored without one (robot_brain.complete_turn, migration 0004). */
export async function completeTurnRow(
  db: Queryable,
  tenant: string,
  sessionId: string,
  id: string,
  robotResponse: string,
  patch: Record<string, unknown>,
): Promise<{ outcome: CompleteOutcome; row: TurnRow } | null> {
  const { rows } = await db.query<TurnRow & { outcome: CompleteOutcome }>({
    name: 'rb_complete_turn',
    text: `SELECT r.outcome, ${TURN_COLUMNS}
           FROM robot_brain.complete_turn($1, $2, $3::uuid, $4, $5::jsonb) r
           CROSS JOIN LATERAL (SELECT (r.turn).*) c`,
    values: [tenant, sessionId, id, robotResponse, JSON.stringify(patch)],
  })
  const row = rows[0]
  return row ? { outcome: row.outcome, row } : null
}

/** Deletes one turn and takes it off its session's count. False: no such turn in that session. */
export async function deleteTurnRow(
  db: Queryable,
  tenant: string,
  sessionId: string,
  id: string,
): Promise<boolean> {
  const { rows } = await db.query<{ deleted: boolean }>({
    name: 'rb_delete_turn',
    text: 'SELECT robot_brain.delete_turn($1, $2, $3::uuid) AS deleted',
    values: [tenant, sessionId, id],
  })
  return rows[0]?.deleted === true
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
