// Sessions of this database waiting for a lock, the lock they want, for how long, and who holds it.
import type { Queryable } from '../db/pool.js'
import type { WaitingLock } from './types.js'

const WAITING = `
SELECT l.pid, l.locktype, l.mode,
       CASE WHEN l.relation IS NULL THEN NULL ELSE l.relation::regclass::text END AS relation,
       extract(epoch FROM clock_timestamp() - coalesce(a.state_change, a.query_start))::float8 AS seconds,
       pg_blocking_pids(l.pid) AS blocked_by,
       left(coalesce(a.query, ''), 200) AS query
FROM pg_locks l
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE NOT l.granted AND a.datname = current_database()
ORDER BY seconds DESC`

export async function waitingLocks(db: Queryable): Promise<WaitingLock[]> {
  const { rows } = await db.query<{
    pid: number
    locktype: string
    mode: string
    relation: string | null
    seconds: number
    blocked_by: number[]
    query: string
  }>(WAITING)
  return rows.map((r) => ({
    pid: r.pid,
    locktype: r.locktype,
    mode: r.mode,
    relation: r.relation,
    waitingSeconds: Math.round(r.seconds * 10) / 10,
    blockedBy: r.blocked_by,
    query: r.query,
  }))
}
