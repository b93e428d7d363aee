// Session statistics from the session_stats materialized view (through its tenant-filtered view).
import type { Queryable } from '../db/pool.js'
import type { SessionStats } from './types.js'

interface StatsRow {
  session_id: string
  message_count: number
  first_message: Date
  last_message: Date
  avg_response_length: number
  avg_user_message_length: number
}

const SESSION_STATS = `
SELECT st.*
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.tenant_session_stats v
  WHERE v.tenant_id = ctx.tenant_id AND ($2::text IS NULL OR v.session_id = $2)
  ORDER BY v.last_message DESC
  LIMIT $3
) st`

export async function sessionStatsRows(
  db: Queryable,
  tenant: string,
  sessionId: string | null,
  limit: number,
): Promise<SessionStats[]> {
  const { rows } = await db.query<StatsRow>({
    name: 'rb_session_stats',
    text: SESSION_STATS,
    values: [tenant, sessionId, limit],
  })
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
  await db.query('REFRESH MATERIALIZED VIEW CONCURRENTLY robot_brain.session_stats')
}
