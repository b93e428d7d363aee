// Sessions: get, list (keyset on last_active, id; all or one user's), create or replace (put), merge
// user metadata, set the user, delete with all turns.
import type { Queryable } from '../db/pool.js'
import { SQLSTATE } from '../db/sqlstate.js'
import { ValidationError } from '../errors.js'
import { type CursorKey, FAR_FUTURE_US } from './cursor.js'
import type { Session } from './types.js'

export interface SessionRow {
  id: string
  user_id: string | null
  user_metadata: Record<string, unknown>
  created_at: Date
  last_active: Date
  message_count: number
  last_active_us: string
}

const SESSION_COLUMNS = `s.id, s.user_id, s.user_metadata, s.created_at, s.last_active, s.message_count,
  (extract(epoch FROM s.last_active) * 1000000)::bigint::text AS last_active_us`

const GET_SESSION = `
SELECT ${SESSION_COLUMNS}
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.sessions s WHERE s.tenant_id = ctx.tenant_id AND s.id = $2
) s`

export async function getSessionRow(
  db: Queryable,
  tenant: string,
  id: string,
): Promise<SessionRow | undefined> {
  const { rows } = await db.query<SessionRow>({
    name: 'rb_get_session',
    text: GET_SESSION,
    values: [tenant, id],
  })
  return rows[0]
}

/** Most recently active first; strictly after the cursor key; only sessions active since $3. */
const LIST_SESSIONS = `
SELECT ${SESSION_COLUMNS}
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.sessions s
  WHERE s.tenant_id = ctx.tenant_id
    AND s.last_active >= $2::timestamptz
    AND (s.last_active, s.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::text)
  ORDER BY s.last_active DESC, s.id DESC
  LIMIT $5
) s`

/** The same, for one user's sessions (index sessions_user_idx). */
const LIST_USER_SESSIONS = `
SELECT ${SESSION_COLUMNS}
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.sessions s
  WHERE s.tenant_id = ctx.tenant_id
    AND s.user_id = $6
    AND s.last_active >= $2::timestamptz
    AND (s.last_active, s.id) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::text)
  ORDER BY s.last_active DESC, s.id DESC
  LIMIT $5
) s`

// Row comparison decides on last_active alone here, so the id part is irrelevant.
const NEWEST: CursorKey = { us: FAR_FUTURE_US, id: '' }

/**
 * Either list, keeping only sessions with a turn of one personality (parameter $n): each session met,
 * newest first, is probed by the (tenant_id, session_id, ...) index of conversations.
 */
function withPersonality(listSql: string, n: number): string {
  return listSql.replace(
    '\n  ORDER BY',
    `
    AND EXISTS (
      SELECT 1 FROM robot_brain.conversations c
      WHERE c.tenant_id = s.tenant_id AND c.session_id = s.id AND c.robot_personality = $${n}::text
    )
  ORDER BY`,
  )
}
const LIST_PERSONALITY_SESSIONS = withPersonality(LIST_SESSIONS, 6)
const LIST_USER_PERSONALITY_SESSIONS = withPersonality(LIST_USER_SESSIONS, 7)

export async function listSessionRows(
  db: Queryable,
  tenant: string,
  activeSince: Date | null,
  after: CursorKey | null,
  limit: number,
  userId: string | null = null,
  robotPersonality: string | null = null,
): Promise<SessionRow[]> {
  const key = after ?? NEWEST
  const values: unknown[] = [tenant, (activeSince ?? new Date(0)).toISOString(), key.us, key.id, limit]
  // One statement per filter set rather than "$6 IS NULL OR ...": a generic plan could not use the
  // user index.
  const byUser = userId !== null
  if (byUser) values.push(userId)
  if (robotPersonality !== null) values.push(robotPersonality)
  const [name, text] =
    robotPersonality === null
      ? byUser
        ? ['rb_list_user_sessions', LIST_USER_SESSIONS]
        : ['rb_list_sessions', LIST_SESSIONS]
      : byUser
        ? ['rb_list_user_personality_sessions', LIST_USER_PERSONALITY_SESSIONS]
        : ['rb_list_personality_sessions', LIST_PERSONALITY_SESSIONS]
  const { rows } = await db.query<SessionRow>({ name, text, values })
  return rows
}

/**
 * Creates the session, or updates it: sets user_id when $4 says so, replaces user_metadata when $5
 * is not null. Rows flow from use_tenant, so the context is set before the table is touched.
 */
const PUT_SESSION = `
INSERT INTO robot_brain.sessions AS s (tenant_id, id, user_id, user_metadata)
SELECT ctx.tenant_id, $2, $3, coalesce($5::jsonb, '{}')
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
ON CONFLICT (tenant_id, id) DO UPDATE
  SET user_id = CASE WHEN $4::boolean THEN excluded.user_id ELSE s.user_id END,
      user_metadata = coalesce($5::jsonb, s.user_metadata)
RETURNING ${SESSION_COLUMNS}, (s.xmax = 0) AS created`

export async function putSessionRow(
  db: Queryable,
  tenant: string,
  id: string,
  userId: string | null | undefined,
  userMetadata: Record<string, unknown> | undefined,
): Promise<SessionRow & { created: boolean }> {
  const { rows } = await db.query<SessionRow & { created: boolean }>({
    name: 'rb_put_session',
    text: PUT_SESSION,
    values: [
      tenant,
      id,
      userId ?? null,
      userId !== undefined,
      userMetadata === undefined ? null : JSON.stringify(userMetadata),
    ],
  })
  const row = rows[0]
  if (!row) throw new Error('put session returned no row')
  return row
}

/** Sets the session's user and, when given, merges a metadata patch (robot_brain.update_session). */
export async function updateSessionRow(
  db: Queryable,
  tenant: string,
  id: string,
  userId: string | null,
  patch: Record<string, unknown> | undefined,
): Promise<SessionRow | undefined> {
  try {
    const { rows } = await db.query<SessionRow>({
      name: 'rb_update_session',
      text: `SELECT ${SESSION_COLUMNS} FROM robot_brain.update_session($1, $2, $3, $4::jsonb) s`,
      values: [tenant, id, userId, patch === undefined ? null : JSON.stringify(patch)],
    })
    return rows[0]
  } catch (err) {
    throw metadataLimitError(err)
  }
}

/**
 * Merges `patch` into the session's user_metadata (top-level keys replaced). Undefined when there is no
 * such session; a ValidationError naming userMetadata when the merged object would exceed the limit.
 */
export async function mergeSessionMetadata(
  db: Queryable,
  tenant: string,
  id: string,
  patch: Record<string, unknown>,
): Promise<SessionRow | undefined> {
  try {
    const { rows } = await db.query<SessionRow>({
      name: 'rb_merge_session_metadata',
      text: `SELECT ${SESSION_COLUMNS} FROM robot_brain.merge_session_metadata($1, $2, $3::jsonb) s`,
      values: [tenant, id, JSON.stringify(patch)],
    })
    return rows[0]
  } catch (err) {
    throw metadataLimitError(err)
  }
}

/** The limit is checked on the merged object in the merging statement (migration 0003). */
function metadataLimitError(err: unknown): unknown {
  const e = err as { code?: string; message?: string }
  return e?.code === SQLSTATE.METADATA_TOO_LARGE
    ? new ValidationError('userMetadata', String(e.message))
    : err
}

/**
 * Deletes the session and, by cascade, all its turns, and records it in the audit log as `actor`
 * (migration 0013). Returns false when there was no such session.
 */
export async function deleteSessionRow(
  db: Queryable,
  tenant: string,
  id: string,
  actor = 'library',
): Promise<boolean> {
  const { rows } = await db.query<{ turns: number | null }>({
    name: 'rb_delete_session_audited',
    text: 'SELECT robot_brain.delete_session_audited($1, $2, $3) AS turns',
    values: [tenant, id, actor],
  })
  return rows[0]?.turns !== null && rows[0]?.turns !== undefined
}

export function toSession(row: SessionRow): Session {
  return {
    id: row.id,
    userId: row.user_id,
    userMetadata: row.user_metadata,
    createdAt: new Date(row.created_at).toISOString(),
    lastActive: new Date(row.last_active).toISOString(),
    messageCount: row.message_count,
  }
}

/** Replaces userMetadata if it still equals `old` (robot_brain.replace_session_metadata, migration 0014). */
export async function replaceSessionMetadata(
  db: Queryable,
  tenant: string,
  id: string,
  old: Record<string, unknown>,
  next: Record<string, unknown>,
): Promise<SessionRow | undefined> {
  const { rows } = await db.query<SessionRow>({
    name: 'rb_replace_session_metadata',
    text: `SELECT ${SESSION_COLUMNS} FROM robot_brain.replace_session_metadata($1, $2, $3::jsonb, $4::jsonb) s`,
    values: [tenant, id, JSON.stringify(old), JSON.stringify(next)],
  })
  return rows[0]
}
