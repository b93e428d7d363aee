// Figures computed straight from the raw rows (as the owner, no rollup involved), to check the
// analytics against: exact counts and averages, and percentile_disc for the percentiles.
import { expect } from 'vitest'
import type { InteractionFigures } from '../../src/analytics/interactions.js'
import type { TestStore } from '../support/store.js'

export interface RawPersonality {
  start: string | null
  robot_personality: string
  turns: number
  sessions: number
  avg_user: number | null
  avg_response: number | null
}

export function rawPersonalities(
  t: TestStore,
  tenant: string,
  from: string,
  to: string,
  bucket: string | null,
): Promise<RawPersonality[]> {
  return t.ownerQuery<RawPersonality>(
    `SELECT CASE WHEN $4::text IS NULL THEN NULL ELSE to_char(date_trunc($4::text, created_at, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END AS start,
            robot_personality, count(*)::int AS turns, count(DISTINCT session_id)::int AS sessions,
            avg(char_length(user_message))::float8 AS avg_user, avg(char_length(robot_response))::float8 AS avg_response
     FROM robot_brain.conversations
     WHERE tenant_id = $1 AND created_at >= $2::timestamptz AND created_at < $3::timestamptz
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [tenant, from, to, bucket],
  )
}

export interface RawInteraction {
  start: string | null
  key: string
  count: number
  successes: number
  avg: number
  p50: number
  p95: number
  p99: number
  max: number
}

export function rawInteractions(
  t: TestStore,
  tenant: string,
  from: string,
  to: string,
  bucket: string | null,
  column: 'robot_id' | 'interaction_type',
): Promise<RawInteraction[]> {
  return t.ownerQuery<RawInteraction>(
    `SELECT CASE WHEN $4::text IS NULL THEN NULL ELSE to_char(date_trunc($4::text, created_at, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END AS start,
            ${column} AS key, count(*)::int AS count, count(*) FILTER (WHERE success)::int AS successes,
            avg(duration_ms)::float8 AS avg,
            percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50,
            percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95,
            percentile_disc(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99,
            max(duration_ms) AS max
     FROM robot_brain.robot_interactions
     WHERE tenant_id = $1 AND created_at >= $2::timestamptz AND created_at < $3::timestamptz
     GROUP BY 1, 2 ORDER BY 1, 2`,
    [tenant, from, to, bucket],
  )
}

/** Counts, successes and max exact, percentiles within 1% of the exact ones of the raw rows. */
export function expectFiguresMatch(
  figures: InteractionFigures | undefined,
  raw: RawInteraction | undefined,
): void {
  expect([figures?.count, figures?.successes, figures?.durationMs.max]).toEqual([
    raw?.count,
    raw?.successes,
    raw?.max,
  ])
  for (const q of ['p50', 'p95', 'p99'] as const) {
    const want = raw?.[q] as number
    const est = figures?.durationMs[q] ?? Number.NaN
    expect(Math.abs(est - want), `${q}: ${est} vs exact ${want}`).toBeLessThanOrEqual(0.01 * want)
  }
}
