// Interaction analytics: per robot or per interaction type, counts, successes, success rate and
// duration avg, p50, p95, p99 and max, over a range and optionally per bucket. From interaction_rollups
// (whole hours) plus the raw events of the partial hours at the ends; duration sketches are merged in
// SQL per bucket and key, then bucket sketches merge here for the whole range (sketches are exact to
// merge). Also the latest failures of the range, from the partial index on failed events.
import type { Queryable } from '../db/pool.js'
import { rangeParams, type TimeRange } from './range.js'
import { mergeInto, quantile, type Sketch } from './sketch.js'

export const GROUP_BY = ['robotId', 'interactionType'] as const
export type GroupBy = (typeof GROUP_BY)[number]

/** Column of each grouping: identifiers come from this fixed map, never from input. */
const KEY_COLUMN: Record<GroupBy, string> = { robotId: 'robot_id', interactionType: 'interaction_type' }

export interface DurationFigures {
  avg: number | null
  /** Within 1% relative error of the exact nearest-rank percentile (percentile_disc). */
  p50: number | null
  p95: number | null
  p99: number | null
  max: number | null
}

export interface InteractionFigures {
  count: number
  successes: number
  /** successes / count; null when count is 0. */
  successRate: number | null
  durationMs: DurationFigures
}

export interface InteractionBucket extends InteractionFigures {
  start: string
}

export interface InteractionGroup extends InteractionFigures {
  key: string
  buckets: InteractionBucket[]
}

export interface FailedInteraction {
  id: string
  robotId: string
  interactionType: string
  durationMs: number
  metadata: Record<string, unknown>
  createdAt: string
}

// $1 tenant, $2 from, $3 to, $4 whole-hours from, $5 whole-hours to, $6 edge hours, $7 bucket.
const query = (key: string) => `
WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant($1) AS tenant_id),
src AS (
  SELECT r.hour, r.${key} AS key, r.events, r.successes, r.duration_sum, r.duration_max, r.sketch
  FROM ctx CROSS JOIN LATERAL (
    SELECT * FROM robot_brain.interaction_rollups r
    WHERE r.tenant_id = ctx.tenant_id AND r.hour >= $4::timestamptz AND r.hour < $5::timestamptz
  ) r
  UNION ALL
  -- The partial hours: raw events of the robots the rollups list in those hours (index lookups).
  SELECT hour, key, sum(n), sum(ok), sum(total), max(top), jsonb_object_agg(idx::text, n)
  FROM (
    SELECT date_trunc('hour', x.created_at, 'UTC') AS hour, x.${key} AS key,
           robot_brain.sketch_index(x.duration_ms) AS idx, count(*) AS n,
           count(*) FILTER (WHERE x.success) AS ok, sum(x.duration_ms) AS total, max(x.duration_ms) AS top
    FROM ctx CROSS JOIN LATERAL (
      SELECT DISTINCT r.robot_id FROM robot_brain.interaction_rollups r
      WHERE r.tenant_id = ctx.tenant_id AND r.hour = ANY ($6::timestamptz[])
    ) k CROSS JOIN LATERAL (
      -- Two index ranges, before and after the whole hours: one range with the whole hours filtered
      -- out would read every event of the robot in between.
      SELECT * FROM robot_brain.robot_interactions x
      WHERE x.tenant_id = ctx.tenant_id AND x.robot_id = k.robot_id
        AND x.created_at >= $2::timestamptz AND x.created_at < least($3::timestamptz, $4::timestamptz)
      UNION ALL
      SELECT * FROM robot_brain.robot_interactions x
      WHERE x.tenant_id = ctx.tenant_id AND x.robot_id = k.robot_id
        AND x.created_at >= greatest($2::timestamptz, $5::timestamptz, least($3::timestamptz, $4::timestamptz))
        AND x.created_at < $3::timestamptz
    ) x
    GROUP BY 1, 2, 3
  ) e
  GROUP BY 1, 2
),
grouped AS (
  SELECT CASE WHEN $7::text IS NULL THEN NULL ELSE date_trunc($7::text, src.hour, 'UTC') END AS start,
         src.key, src.events, src.successes, src.duration_sum, src.duration_max, src.sketch
  FROM src
),
figures AS (
  SELECT start, key, sum(events)::bigint AS events, sum(successes)::bigint AS successes,
         sum(duration_sum)::float8 AS duration_sum, max(duration_max) AS duration_max
  FROM grouped GROUP BY start, key
),
sketches AS (
  SELECT start, key, jsonb_object_agg(idx, n) AS sketch
  FROM (
    SELECT g.start, g.key, e.idx, sum(e.n::bigint) AS n
    FROM grouped g CROSS JOIN LATERAL jsonb_each_text(g.sketch) AS e(idx, n)
    GROUP BY 1, 2, 3
  ) b
  GROUP BY start, key
)
SELECT f.start, f.key, f.events, f.successes, f.duration_sum, f.duration_max, s.sketch
FROM figures f JOIN sketches s ON s.key = f.key AND s.start IS NOT DISTINCT FROM f.start`

interface Row {
  start: Date | null
  key: string
  events: string
  successes: string
  duration_sum: number
  duration_max: number
  sketch: Sketch
}

interface Accumulated {
  events: number
  successes: number
  durationSum: number
  durationMax: number
  sketch: Sketch
}

function figures(a: Accumulated): InteractionFigures {
  return {
    count: a.events,
    successes: a.successes,
    successRate: a.events ? a.successes / a.events : null,
    durationMs: {
      avg: a.events ? a.durationSum / a.events : null,
      p50: quantile(a.sketch, 0.5, a.durationMax),
      p95: quantile(a.sketch, 0.95, a.durationMax),
      p99: quantile(a.sketch, 0.99, a.durationMax),
      max: a.events ? a.durationMax : null,
    },
  }
}

export async function interactionStats(
  db: Queryable,
  tenant: string,
  range: TimeRange,
  groupBy: GroupBy,
): Promise<InteractionGroup[]> {
  const { rows } = await db.query<Row>({
    name: `rb_analytics_interactions_${KEY_COLUMN[groupBy]}`,
    text: query(KEY_COLUMN[groupBy]),
    values: [tenant, ...rangeParams(range)],
  })
  const totals = new Map<string, Accumulated & { buckets: InteractionBucket[] }>()
  for (const r of rows) {
    const t = totals.get(r.key) ?? {
      events: 0,
      successes: 0,
      durationSum: 0,
      durationMax: 0,
      sketch: {},
      buckets: [],
    }
    totals.set(r.key, t)
    const part: Accumulated = {
      events: Number(r.events),
      successes: Number(r.successes),
      durationSum: r.duration_sum,
      durationMax: r.duration_max,
      sketch: r.sketch,
    }
    t.events += part.events
    t.successes += part.successes
    t.durationSum += part.durationSum
    t.durationMax = Math.max(t.durationMax, part.durationMax)
    mergeInto(t.sketch, part.sketch)
    if (r.start !== null) t.buckets.push({ start: new Date(r.start).toISOString(), ...figures(part) })
  }
  return [...totals.entries()]
    .map(([key, t]) => ({
      key,
      ...figures(t),
      buckets: t.buckets.sort((a, b) => a.start.localeCompare(b.start)),
    }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
}

/** The newest failed events of the range (partial index robot_interactions_failed_idx). */
const LATEST_FAILURES = `
SELECT x.id::text AS id, x.robot_id, x.interaction_type, x.duration_ms, x.metadata, x.created_at
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.robot_interactions x
  WHERE x.tenant_id = ctx.tenant_id AND NOT x.success
    AND x.created_at >= $2::timestamptz AND x.created_at < $3::timestamptz
  ORDER BY x.created_at DESC, x.id DESC
  LIMIT $4
) x`

export async function latestFailures(
  db: Queryable,
  tenant: string,
  range: TimeRange,
  limit: number,
): Promise<FailedInteraction[]> {
  const { rows } = await db.query<{
    id: string
    robot_id: string
    interaction_type: string
    duration_ms: number
    metadata: Record<string, unknown>
    created_at: Date
  }>({
    name: 'rb_analytics_latest_failures',
    text: LATEST_FAILURES,
    values: [tenant, range.from.toISOString(), range.to.toISOString(), limit],
  })
  return rows.map((r) => ({
    id: r.id,
    robotId: r.robot_id,
    interactionType: r.interaction_type,
    durationMs: r.duration_ms,
    metadata: r.metadata,
    createdAt: new Date(r.created_at).toISOString(),
  }))
}
