// Fast fill for the history suite: turns made by INSERT ... SELECT generate_series as the owner, not
// through recordTurn (10M turns one by one would take longer than everything else). Sessions get
// `perSession` turns 30 s apart, and message_count consistent with them; sessions start spread over
// the last twelve months (a golden-ratio sequence: even and deterministic), each month in its own
// partition, so every size of the data set spans the same partitions.
import type { DbPool } from '../db/pool.js'
import { USER_MESSAGE } from './payload.js'
import { BENCH_TENANT } from './targets.js'

export const MONTHS = 12

const PARAMS = `params AS (
  SELECT t0, extract(epoch FROM now() - t0) - $3::int * 30 - 3600 AS span_s
  FROM (SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '${MONTHS - 1} months') AT TIME ZONE 'UTC' AS t0) p
),
start AS (
  SELECT s, t0 + span_s * (s * 0.6180339887498949 - floor(s * 0.6180339887498949)) * interval '1 second' AS st
  FROM params, generate_series($1::int, $2::int - 1) s
)`

const INSERT_SESSIONS = `WITH ${PARAMS}
INSERT INTO robot_brain.sessions (tenant_id, id, created_at, last_active, message_count, turns_from, turns_to)
SELECT $4, 'h' || s, st, st + ($3::int - 1) * interval '30 seconds', $3::int,
       st, st + ($3::int - 1) * interval '30 seconds' FROM start`

// UUIDv7 layout: 48-bit millisecond time, version 7, variant 8, the rest from a hash of the key.
const INSERT_TURNS = `WITH ${PARAMS}
INSERT INTO robot_brain.conversations
  (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
SELECT $4,
       (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8' || substr(r, 4, 3) || '-' ||
        substr(r, 7, 12))::uuid,
       'h' || s, 'cheerful', $5 || ' #' || k, 'A robot answer to turn ' || k || ' of session ' || s || ', ' || r,
       '{"channel": "web"}', ts
FROM start,
     generate_series(0, $3::int - 1) k,
     LATERAL (SELECT st + k * interval '30 seconds' AS ts) t,
     LATERAL (SELECT lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') AS h,
                     md5(s || ':' || k) AS r) u`

/** Creates the monthly partitions the bulk-loaded turns fall in. */
export async function ensureHistoryPartitions(owner: DbPool): Promise<void> {
  await owner.query(
    `SELECT robot_brain.ensure_month_partition('conversations',
              (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m))::date)
     FROM generate_series(0, ${MONTHS - 1}) m`,
  )
}

/**
 * Adds sessions [from, to) with `perSession` turns each, in chunks (progress, short transactions).
 * Foreign-key triggers are skipped for the load (session_replication_role, superuser only): the
 * sessions go in first, so the rows are consistent all the same.
 */
export async function bulkLoadTurns(
  owner: DbPool,
  from: number,
  to: number,
  perSession: number,
  progress: (done: number) => void = () => {},
): Promise<void> {
  const client = await owner.connect()
  let replica = false
  try {
    try {
      await client.query('SET session_replication_role = replica')
      replica = true
    } catch {
      // Not a superuser: the foreign key is checked row by row, slower but the same result.
    }
    const chunk = Math.max(1, Math.floor(500_000 / perSession))
    for (let a = from; a < to; a += chunk) {
      const b = Math.min(to, a + chunk)
      await client.query({ text: INSERT_SESSIONS, values: [a, b, perSession, BENCH_TENANT] })
      await client.query({ text: INSERT_TURNS, values: [a, b, perSession, BENCH_TENANT, USER_MESSAGE] })
      progress((b - from) * perSession)
    }
    if (replica) await client.query('RESET session_replication_role')
    client.release()
  } catch (err) {
    client.release(err as Error)
    throw err
  }
}

/** Sets hint bits and the visibility map, and refreshes statistics, so reads do not pay for the load. */
export async function settle(owner: DbPool): Promise<void> {
  await owner.query('VACUUM (ANALYZE) robot_brain.conversations')
  await owner.query('VACUUM (ANALYZE) robot_brain.sessions')
}
