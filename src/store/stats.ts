// Session statistics: the session_stats materialized view (through its tenant-filtered view) where it
// is current, the session's turns where it is not.
import type { Queryable } from '../db/pool.js'
import { refreshSessionStatsIfChanged } from '../upkeep/stats-refresh.js'
import type { SessionStats } from './types.js'

interface StatsRow {
  session_id: string
  message_count: number
  first_message: Date
  last_message: Date
  avg_response_length: number | null
  avg_user_message_length: number
}

/**
 * The sessions with turns, most recently active first, each from the view when its row there is
 * current (computed from the same version of the session row, see migration 0004), else computed
 * live from the session's turns: a session the last refresh did not see is never missing, and
 * never shown with outdated figures. $2 limits to one session (a separate statement, so a generic
 * plan looks it up by key instead of filtering the recency index).
 */
const statsQuery = (where: string) => `
SELECT st.*
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT s.id AS session_id,
         coalesce(v.message_count, live.message_count) AS message_count,
         coalesce(v.first_message, live.first_message) AS first_message,
         coalesce(v.last_message, live.last_message) AS last_message,
         CASE WHEN v.session_id IS NULL THEN live.avg_response_length ELSE v.avg_response_length END
           AS avg_response_length,
         coalesce(v.avg_user_message_length, live.avg_user_message_length) AS avg_user_message_length
  FROM robot_brain.sessions s
  LEFT JOIN robot_brain.tenant_session_stats v
    ON v.session_id = s.id AND v.session_version = s.xmin::text
  LEFT JOIN LATERAL (
    SELECT count(*)::integer AS message_count,
           min(c.created_at) AS first_message,
           max(c.created_at) AS last_message,
           avg(char_length(c.robot_response))::float8 AS avg_response_length,
           avg(char_length(c.user_message))::float8 AS avg_user_message_length
    FROM robot_brain.conversations c
    WHERE v.session_id IS NULL AND c.tenant_id = s.tenant_id AND c.session_id = s.id
  ) live ON true
  WHERE s.tenant_id = ctx.tenant_id AND s.message_count > 0 ${where}
  ORDER BY s.last_active DESC, s.id DESC
  LIMIT $2
) st`

const SESSION_STATS = statsQuery('')
const ONE_SESSION_STATS = statsQuery('AND s.id = $3')

export async function sessionStatsRows(
  db: Queryable,
  tenant: string,
  sessionId: string | null,
  limit: number,
): Promise<SessionStats[]> {
  const { rows } = await db.query<StatsRow>(
    sessionId === null
      ? { name: 'rb_session_stats', text: SESSION_STATS, values: [tenant, limit] }
      : { name: 'rb_one_session_stats', text: ONE_SESSION_STATS, values: [tenant, limit, sessionId] },
  )
  return rows.map((r) => ({
    sessionId: r.session_id,
    messageCount: r.message_count,
    firstMessage: new Date(r.first_message).toISOString(),
    lastMessage: new Date(r.last_message).toISOString(),
    avgResponseLength: r.avg_response_length,
    avgUserMessageLength: r.avg_user_message_length,
  }))
}

/** Rebuilds the view without blocking readers (needs the unique index; runs as the owner). */
export async function refreshSessionStats(db: Queryable): Promise<void> {
  // CONCURRENTLY needs the view to have been populated once; it is (CREATE ... AS populates).
  // Recorded in stats_refresh, as upkeep's refresh is.
  await refreshSessionStatsIfChanged(db, { force: true })
}
