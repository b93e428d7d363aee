// Suite a (and e): turn ingest. Baseline: the naive transaction with the raw driver (BEGIN, upsert
// the session, insert the turn, COMMIT: four round trips). Project: store.recordTurn (one statement,
// coalesced by group commit on pg and neon).
import type { DbPool } from '../db/pool.js'
import { MeteredSide, metered } from './cpu-meter.js'
import { type CompareOptions, compare, runClosedLoop, type Side } from './load.js'
import { type BenchTurn, makeTurn } from './payload.js'
import type { ResultRow } from './report.js'
import { BENCH_TENANT, type Target } from './targets.js'

export interface TurnCase {
  writers: number
  sessions: 'distinct' | 'hot'
}

const UPSERT_SESSION = `
INSERT INTO robot_brain.sessions AS s (tenant_id, id, created_at, last_active, message_count)
VALUES ($1, $2, $3, $3, 1)
ON CONFLICT (tenant_id, id) DO UPDATE
  SET message_count = s.message_count + 1, last_active = greatest(s.last_active, excluded.last_active)`

const INSERT_TURN = `
INSERT INTO robot_brain.conversations
  (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

/** The naive write: four round trips, the session row locked from the upsert to COMMIT. */
export async function naiveTurn(pool: DbPool, t: BenchTurn): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query({ text: UPSERT_SESSION, values: [BENCH_TENANT, t.sessionId, t.createdAt] })
    await client.query({
      text: INSERT_TURN,
      values: [
        BENCH_TENANT,
        t.id,
        t.sessionId,
        t.robotPersonality,
        t.userMessage,
        t.robotResponse,
        JSON.stringify(t.metadata),
        t.createdAt,
      ],
    })
    await client.query('COMMIT')
    client.release()
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    client.release(err as Error)
    throw err
  }
}

/** Numbers the turn cases of a run, so no two cases (e.g. at 5 and at 41 partitions) share a session. */
let caseSeq = 0

/**
 * The session a writer adds to: its own ("distinct") or one for all ("hot"), new for each case and
 * each round. Every turn updates its session row, and that update is never HOT (last_active is
 * indexed), so while the server's xmin horizon is held back (a long transaction in any database, seen
 * through the replica's hot_standby_feedback slot) each turn of a session walks all the dead versions
 * its earlier turns left: measured on a session of 1,400 turns, an upsert read 160 buffers in 12 ms
 * against 49 in 0.5 ms on a fresh one. Sessions reused across cases made every later case slower
 * than the one before, whatever it measured (the 41-partition cases ran after the 5-partition ones).
 */
function sessionOf(
  side: 'b' | 'p',
  target: string,
  c: TurnCase,
  run: number,
  round: number,
  worker: number,
): string {
  // Bench turn sessions start with "t" (history's bulk-loaded ones with "h"): the check below finds them.
  const who = c.sessions === 'hot' ? 'hot' : `w${worker}`
  return `t${side}-${target}-${c.writers}-c${run}r${round < 0 ? 'w' : round}-${who}`
}

export function turnCaseName(c: TurnCase): string {
  return `${c.writers} writer${c.writers === 1 ? '' : 's'}, ${c.sessions === 'hot' ? 'one hot session' : 'distinct sessions'}`
}

/**
 * One turn case. `meter`: a pool on the bench database; the row then also carries the CPU time per
 * turn of each side and the median of the rounds' ratios (cpu-meter.ts).
 */
export async function runTurnCase(
  target: Target,
  c: TurnCase,
  opts: CompareOptions,
  meter?: DbPool,
): Promise<ResultRow> {
  const run = ++caseSeq
  const baseline: Side = {
    run: (ms, round) =>
      runClosedLoop(c.writers, ms, (w, seq) =>
        naiveTurn(target.raw, makeTurn(sessionOf('b', target.name, c, run, round, w), seq)),
      ),
  }
  const project: Side = {
    run: (ms, round) =>
      runClosedLoop(c.writers, ms, (w, seq) =>
        target.store.recordTurn(makeTurn(sessionOf('p', target.name, c, run, round, w), seq)),
      ),
  }
  const mb = meter && new MeteredSide(baseline, meter)
  const mp = meter && new MeteredSide(project, meter)
  const cmp = await compare(mb ?? baseline, mp ?? project, opts)
  return {
    ...(mb && mp ? metered(mb, mp) : {}),
    suite: 'turns',
    target: target.name,
    case: turnCaseName(c),
    key: `turns.${target.name}.${c.writers}.${c.sessions}`,
    unit: 'turns/s',
    baselineName: 'naive 4-round-trip transaction',
    projectName: 'recordTurn',
    ...cmp,
  }
}

/** Every bench session's message_count must equal its stored turns: group commit counts exactly. */
export async function checkMessageCounts(owner: DbPool): Promise<{ sessions: number; wrong: number }> {
  const { rows } = await owner.query<{ sessions: number; wrong: number }>({
    text: `SELECT count(*)::int AS sessions, count(*) FILTER (WHERE s.message_count <> coalesce(c.n, 0))::int AS wrong
           FROM robot_brain.sessions s
           LEFT JOIN (SELECT session_id, count(*)::int AS n FROM robot_brain.conversations
                      WHERE tenant_id = $1 AND session_id LIKE 't%' GROUP BY session_id) c ON c.session_id = s.id
           WHERE s.tenant_id = $1 AND s.id LIKE 't%'`,
    values: [BENCH_TENANT],
  })
  return rows[0] ?? { sessions: 0, wrong: 0 }
}
