// A lease row: one process at a time holds a named job, across processes and machines. Session
// advisory locks do not survive a transaction-mode pooler (Neon's -pooler endpoint), and a
// transaction-scoped one would keep a transaction open for the whole run; a row with an expiry works
// through any pooler, outlives no crashed holder (it expires), and costs one statement to take.
// Times come from the caller's clock (injectable for tests); holders' clocks agree within seconds,
// far below a lease's length.
import type { Queryable } from '../db/pool.js'

export interface LeaseState {
  holder: string | null
  expiresAt: Date | null
  lastStartedAt: Date | null
  lastFinishedAt: Date | null
  lastResults: unknown
}

/**
 * Takes the lease when it is free (no holder, or expired) and the job is due (never finished, or last
 * finished at least `intervalMs` before `now`; intervalMs 0: due now). True when taken. Two processes
 * racing: the upsert locks the row, the second re-checks the condition and finds it held. The holder
 * itself may take it again (a retry after a lost answer).
 */
export async function acquireLease(
  db: Queryable,
  name: string,
  holder: string,
  now: Date,
  leaseMs: number,
  intervalMs: number,
): Promise<boolean> {
  const { rows } = await db.query<{ holder: string }>({
    text: `INSERT INTO robot_brain.upkeep_lease AS l (name, holder, expires_at, last_started_at)
           VALUES ($1, $2, $3::timestamptz + $4::bigint * interval '1 millisecond', $3::timestamptz)
           ON CONFLICT (name) DO UPDATE
             SET holder = excluded.holder, expires_at = excluded.expires_at,
                 last_started_at = excluded.last_started_at
           WHERE (l.expires_at IS NULL OR l.expires_at <= $3::timestamptz OR l.holder = $2)
             AND (l.last_finished_at IS NULL
                  OR l.last_finished_at <= $3::timestamptz - $5::bigint * interval '1 millisecond')
           RETURNING l.holder`,
    values: [name, holder, now.toISOString(), leaseMs, intervalMs],
  })
  return rows[0]?.holder === holder
}

/** Extends a lease still held; false when it was lost (expired and taken by another process). */
export async function renewLease(
  db: Queryable,
  name: string,
  holder: string,
  now: Date,
  leaseMs: number,
): Promise<boolean> {
  const { rows } = await db.query({
    text: `UPDATE robot_brain.upkeep_lease
              SET expires_at = $3::timestamptz + $4::bigint * interval '1 millisecond'
            WHERE name = $1 AND holder = $2
           RETURNING name`,
    values: [name, holder, now.toISOString(), leaseMs],
  })
  return rows.length === 1
}

/** Gives the lease back and records the run; a no-op when it was lost meanwhile. */
export async function releaseLease(
  db: Queryable,
  name: string,
  holder: string,
  now: Date,
  results: unknown,
): Promise<void> {
  await db.query({
    text: `UPDATE robot_brain.upkeep_lease
              SET holder = NULL, expires_at = NULL, last_finished_at = $3::timestamptz, last_results = $4::jsonb
            WHERE name = $1 AND holder = $2`,
    values: [name, holder, now.toISOString(), JSON.stringify(results)],
  })
}

export async function leaseState(db: Queryable, name: string): Promise<LeaseState | null> {
  const { rows } = await db.query<{
    holder: string | null
    expires_at: Date | null
    last_started_at: Date | null
    last_finished_at: Date | null
    last_results: unknown
  }>({
    text: `SELECT holder, expires_at, last_started_at, last_finished_at, last_results
             FROM robot_brain.upkeep_lease WHERE name = $1`,
    values: [name],
  })
  const r = rows[0]
  if (!r) return null
  const date = (d: Date | null) => (d === null ? null : new Date(d))
  return {
    holder: r.holder,
    expiresAt: date(r.expires_at),
    lastStartedAt: date(r.last_started_at),
    lastFinishedAt: date(r.last_finished_at),
    lastResults: r.last_results,
  }
}
