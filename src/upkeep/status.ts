// What `status` shows of upkeep: the session_stats refresh and the last scheduled run.
import type { Queryable } from '../db/pool.js'
import { leaseState } from './lease.js'
import { UPKEEP_JOB } from './scheduler.js'
import { type StatsFreshness, statsFreshness } from './stats-refresh.js'

export interface UpkeepStatus {
  sessionStats: StatsFreshness
  /** The last scheduled run (by any serve process); null: none yet. */
  lastRun: { startedAt: string | null; finishedAt: string | null; results: unknown } | null
  /** The process running upkeep now, if any. */
  runningIn: string | null
}

/**
 * Null before migration 0008, and for a login that may not read the upkeep tables (the app's role
 * given as the only URL: status then says why it shows no rows, instead of failing here).
 */
export async function upkeepStatus(db: Queryable, now = new Date()): Promise<UpkeepStatus | null> {
  const { rows } = await db.query<{ readable: boolean | null }>(
    `SELECT has_table_privilege(t, 'SELECT') AS readable
       FROM (SELECT to_regclass('robot_brain.upkeep_lease')::oid AS t) x WHERE t IS NOT NULL`,
  )
  if (!rows[0]?.readable) return null
  const lease = await leaseState(db, UPKEEP_JOB)
  const held = lease?.holder && lease.expiresAt && lease.expiresAt > now ? lease.holder : null
  return {
    sessionStats: await statsFreshness(db),
    lastRun:
      lease?.lastFinishedAt || lease?.lastStartedAt
        ? {
            startedAt: lease.lastStartedAt?.toISOString() ?? null,
            finishedAt: lease.lastFinishedAt?.toISOString() ?? null,
            results: lease.lastResults,
          }
        : null,
    runningIn: held,
  }
}
