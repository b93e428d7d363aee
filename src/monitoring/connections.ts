// Client connections by state against max_connections. pg_stat_activity shows every database's
// sessions; a role without pg_read_all_stats sees other roles' sessions with a null state ("unknown").
import type { Queryable } from '../db/pool.js'
import type { ConnectionsReport } from './types.js'

const CONNECTIONS = `
SELECT coalesce(a.state, 'unknown') AS state,
       count(*)::int AS n,
       count(*) FILTER (WHERE a.datname = current_database())::int AS here,
       current_setting('max_connections')::int AS max,
       current_setting('superuser_reserved_connections')::int AS reserved
FROM pg_stat_activity a
WHERE a.backend_type = 'client backend'
GROUP BY 1`

export async function connections(db: Queryable): Promise<ConnectionsReport> {
  const { rows } = await db.query<{ state: string; n: number; here: number; max: number; reserved: number }>(
    CONNECTIONS,
  )
  const report: ConnectionsReport = { limit: 0, reserved: 0, total: 0, byState: {}, thisDatabase: 0 }
  for (const r of rows) {
    report.byState[r.state] = r.n
    report.total += r.n
    report.thisDatabase += r.here
    report.limit = r.max
    report.reserved = r.reserved
  }
  if (rows.length === 0) {
    const limits = await db.query<{ max: number; reserved: number }>(
      "SELECT current_setting('max_connections')::int AS max, current_setting('superuser_reserved_connections')::int AS reserved",
    )
    report.limit = limits.rows[0]?.max ?? 0
    report.reserved = limits.rows[0]?.reserved ?? 0
  }
  return report
}
