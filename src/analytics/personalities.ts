// Personality analytics: turns, distinct sessions and average message lengths per personality, over a
// range and optionally per bucket, from personality_rollups (whole hours) plus the raw turns of the
// partial hours at the ends. Rollup rows are per session, so distinct sessions are exact in any range.
import type { Queryable } from '../db/pool.js'
import { partialHourRows, rangeParams, type TimeRange } from './range.js'
import { utcBucket, utcHour } from './utc.js'

export interface PersonalityFigures {
  turns: number
  sessions: number
  /** Characters; null when there is no turn. */
  avgUserMessageLength: number | null
  /** Characters, over answered turns (a turn awaiting its answer has none yet); null when none. */
  avgResponseLength: number | null
}

export interface PersonalityBucket extends PersonalityFigures {
  /** The bucket's start, UTC (it may begin before `from`; only turns in the range count). */
  start: string
}

export interface PersonalityStats extends PersonalityFigures {
  robotPersonality: string
  /** Buckets holding turns, oldest first; empty when no bucket was asked for. */
  buckets: PersonalityBucket[]
}

// $1 tenant, $2 from, $3 to, $4 whole-hours from, $5 whole-hours to, $6 edge hours, $7 bucket.
// Every read is a LATERAL subquery on ctx, so the tenant context is set before any row is read.
const SOURCE = `
WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant($1) AS tenant_id),
src AS (
  SELECT r.hour, r.robot_personality, r.session_id, r.turns, r.user_chars, r.responses, r.response_chars
  FROM ctx CROSS JOIN LATERAL (
    SELECT * FROM robot_brain.personality_rollups r
    WHERE r.tenant_id = ctx.tenant_id AND r.hour >= $4::timestamptz AND r.hour < $5::timestamptz
  ) r
  UNION ALL
  -- The partial hours: the raw turns of the sessions the rollups list in those hours (index lookups).
  SELECT ${utcHour('x.created_at')}, x.robot_personality, x.session_id, count(*),
         sum(char_length(x.user_message)), count(x.robot_response), coalesce(sum(char_length(x.robot_response)), 0)
  FROM ctx CROSS JOIN LATERAL ${partialHourRows('personality_rollups', 'conversations', 'session_id')}
  GROUP BY 1, 2, 3
)`

// Sorted by byte order ("C"): the groups and distinct sessions are the same under any deterministic
// collation, and the sorts behind them compare bytes instead of calling strcoll (about 2 ms of a 30-day
// answer by day).
const FIGURES = `sum(turns)::bigint AS turns, count(DISTINCT session_id COLLATE "C")::bigint AS sessions,
  sum(user_chars)::float8 / nullif(sum(turns), 0) AS avg_user,
  sum(response_chars)::float8 / nullif(sum(responses), 0) AS avg_response`

/** Whole range only. */
const TOTALS = `${SOURCE}
SELECT NULL::timestamptz AS start, robot_personality COLLATE "C" AS robot_personality, ${FIGURES}
FROM src WHERE $7::text IS NULL GROUP BY robot_personality COLLATE "C"`

/** The start of a row's bucket ($7). */
const START = utcBucket('$7::text', 'hour')

/** The whole range and each bucket: distinct sessions do not add up, so both are counted here. */
const BUCKETED = `${SOURCE}
SELECT ${START} AS start, robot_personality COLLATE "C" AS robot_personality, ${FIGURES}
FROM src GROUP BY GROUPING SETS (
  (robot_personality COLLATE "C"), (${START}, robot_personality COLLATE "C")
)`

interface Row {
  start: Date | null
  robot_personality: string
  turns: string
  sessions: string
  avg_user: number | null
  avg_response: number | null
}

const figures = (r: Row): PersonalityFigures => ({
  turns: Number(r.turns),
  sessions: Number(r.sessions),
  avgUserMessageLength: r.avg_user,
  avgResponseLength: r.avg_response,
})

export async function personalityStats(
  db: Queryable,
  tenant: string,
  range: TimeRange,
): Promise<PersonalityStats[]> {
  const { rows } = await db.query<Row>({
    name: range.bucket ? 'rb_analytics_personalities_bucketed' : 'rb_analytics_personalities',
    text: range.bucket ? BUCKETED : TOTALS,
    values: [tenant, ...rangeParams(range)],
  })
  const byName = new Map<string, PersonalityStats>()
  for (const r of rows.filter((r) => r.start === null)) {
    byName.set(r.robot_personality, { robotPersonality: r.robot_personality, ...figures(r), buckets: [] })
  }
  for (const r of rows) {
    if (r.start === null) continue
    byName.get(r.robot_personality)?.buckets.push({ start: new Date(r.start).toISOString(), ...figures(r) })
  }
  const out = [...byName.values()].sort(
    (a, b) => b.turns - a.turns || a.robotPersonality.localeCompare(b.robotPersonality),
  )
  for (const p of out) p.buckets.sort((a, b) => a.start.localeCompare(b.start))
  return out
}
