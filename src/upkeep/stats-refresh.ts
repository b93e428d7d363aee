// The session_stats refresh, only when turns changed since the last one. Every statement that writes
// turns takes a number from robot_brain.turn_changes (migration 0008); the refresh records the last
// number it saw, read before its snapshot. A refresh with nothing new is skipped: no work and no
// lock for a compute that only woke for something else. The view stays exact either way: rows whose
// session changed since are computed live (see store/stats.ts).
import type { Queryable } from '../db/pool.js'

export interface StatsFreshness {
  /** When session_stats was last refreshed (null: unknown). */
  refreshedAt: string | null
  /** Whether turns changed since then (the next refresh will run). */
  changedSince: boolean
}

export interface RefreshOutcome {
  refreshed: boolean
  refreshedAt: string | null
}

const CHANGES = `SELECT CASE WHEN is_called THEN last_value ELSE 0 END::text AS changes
                   FROM robot_brain.turn_changes`

export async function statsFreshness(db: Queryable): Promise<StatsFreshness> {
  const { rows } = await db.query<{ refreshed_at: Date | null; seen: string | null; changes: string }>(
    `SELECT r.refreshed_at, r.changes_seen::text AS seen, c.changes
       FROM robot_brain.stats_refresh r CROSS JOIN (${CHANGES}) c
      WHERE r.name = 'session_stats'`,
  )
  const r = rows[0]
  if (!r) return { refreshedAt: null, changedSince: true }
  return {
    refreshedAt: r.refreshed_at ? new Date(r.refreshed_at).toISOString() : null,
    changedSince: r.seen === null || BigInt(r.changes) > BigInt(r.seen),
  }
}

/**
 * Refreshes session_stats CONCURRENTLY (readers are not blocked) when turns changed since the last
 * refresh, or always with `force`. Safe to run twice at once: two refreshes of one view serialize.
 */
export async function refreshSessionStatsIfChanged(
  db: Queryable,
  options: { force?: boolean } = {},
): Promise<RefreshOutcome> {
  const before = await statsFreshness(db)
  if (!options.force && !before.changedSince) return { refreshed: false, refreshedAt: before.refreshedAt }
  // Read before the refresh takes its snapshot: a change numbered later is seen by the next run.
  const { rows } = await db.query<{ changes: string }>(CHANGES)
  const changes = rows[0]?.changes ?? '0'
  await db.query('REFRESH MATERIALIZED VIEW CONCURRENTLY robot_brain.session_stats')
  const { rows: done } = await db.query<{ refreshed_at: Date }>({
    text: `INSERT INTO robot_brain.stats_refresh (name, refreshed_at, changes_seen)
           VALUES ('session_stats', now(), $1::bigint)
           ON CONFLICT (name) DO UPDATE
             SET refreshed_at = excluded.refreshed_at,
                 changes_seen = greatest(robot_brain.stats_refresh.changes_seen, excluded.changes_seen)
           RETURNING refreshed_at`,
    values: [changes],
  })
  const at = done[0]?.refreshed_at
  return { refreshed: true, refreshedAt: at ? new Date(at).toISOString() : null }
}
