// Interaction analytics: per robot or per interaction type, counts, successes, success rate and
// duration avg, p50, p95, p99 and max, over a range and optionally per bucket. From
// interaction_day_rollups (whole UTC days, one row per day and robot or type), interaction_rollups (the
// whole hours outside them, or every hour when the bucket is an hour) and the raw events of the partial
// hours at the ends. The rows come back as they are stored and are added here, per bucket and key,
// sketches included (sketches are exact to merge): SQL never expands a sketch into rows. Also the
// latest failures of the range, from the partial index on failed events.
import type { Queryable } from '../db/pool.js'
import { bucketStart, partialHourRows, rangeParams, type TimeRange } from './range.js'
import { DenseSketch, type Sketch } from './sketch.js'

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

/** The dimension code of each grouping in interaction_day_rollups (migration 0016). */
const DIM: Record<GroupBy, string> = { robotId: 'r', interactionType: 't' }

// $1 tenant, $2 from, $3 to, $4 whole-hours from, $5 whole-hours to, $6 edge hours, $7 whole-days from,
// $8 whole-days to. One row per day and key for the whole days, per hour, robot and type for the whole
// hours outside them, per hour and key for the partial hours (raw events); the application adds them
// into buckets and totals. Sketches come back as text (entries, and the jsonb of hours merged before
// migration 0016), parsed and added in the application.
const query = (key: string, dim: string) => `
WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant($1) AS tenant_id)
SELECT d.day AS t, d.key, d.events, d.successes, d.duration_sum::float8 AS duration_sum, d.duration_max,
       NULL::jsonb AS sketch, d.sketch_entries::text AS entries
FROM ctx CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.interaction_day_rollups d
  WHERE d.tenant_id = ctx.tenant_id AND d.dim = '${dim}' AND d.day >= $7::timestamptz AND d.day < $8::timestamptz
) d
UNION ALL
SELECT r.hour, r.${key}, r.events, r.successes, r.duration_sum::float8, r.duration_max,
       nullif(r.sketch, '{}'::jsonb), r.sketch_entries::text
FROM ctx CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.interaction_rollups r
  WHERE r.tenant_id = ctx.tenant_id AND r.hour >= $4::timestamptz AND r.hour < $7::timestamptz
  UNION ALL
  SELECT * FROM robot_brain.interaction_rollups r
  WHERE r.tenant_id = ctx.tenant_id AND r.hour >= $8::timestamptz AND r.hour < $5::timestamptz
) r
UNION ALL
-- The partial hours: raw events of the robots the rollups list in those hours (index lookups).
SELECT hour, key, sum(n)::bigint, sum(ok)::bigint, sum(total)::float8, max(top), NULL::jsonb,
       array_agg(robot_brain.sketch_entry(idx, n))::text
FROM (
  SELECT date_trunc('hour', x.created_at, 'UTC') AS hour, x.${key} AS key,
         robot_brain.sketch_index(x.duration_ms) AS idx, count(*) AS n,
         count(*) FILTER (WHERE x.success) AS ok, sum(x.duration_ms) AS total, max(x.duration_ms) AS top
  FROM ctx CROSS JOIN LATERAL ${partialHourRows('interaction_rollups', 'robot_interactions', 'robot_id')}
  GROUP BY 1, 2, 3
) e
GROUP BY 1, 2`

interface Row {
  t: Date
  key: string
  events: string
  successes: string
  duration_sum: number
  duration_max: number
  sketch: Sketch | null
  entries: string | null
}

class Accumulated {
  events = 0
  successes = 0
  durationSum = 0
  durationMax = 0
  sketch = new DenseSketch()

  add(r: Row): void {
    this.events += Number(r.events)
    this.successes += Number(r.successes)
    this.durationSum += r.duration_sum
    this.durationMax = Math.max(this.durationMax, r.duration_max)
    this.sketch.addEntries(r.entries)
    this.sketch.addObject(r.sketch)
  }

  addAll(a: Accumulated): void {
    this.events += a.events
    this.successes += a.successes
    this.durationSum += a.durationSum
    this.durationMax = Math.max(this.durationMax, a.durationMax)
    this.sketch.addSketch(a.sketch)
  }
}

const QUANTILES = [0.5, 0.95, 0.99] as const

function figures(a: Accumulated): InteractionFigures {
  const [p50, p95, p99] = a.sketch.quantiles(QUANTILES, a.durationMax)
  return {
    count: a.events,
    successes: a.successes,
    successRate: a.events ? a.successes / a.events : null,
    durationMs: {
      avg: a.events ? a.durationSum / a.events : null,
      p50: p50 ?? null,
      p95: p95 ?? null,
      p99: p99 ?? null,
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
    name: `rb_analytics_interactions_by_${KEY_COLUMN[groupBy]}`,
    text: query(KEY_COLUMN[groupBy], DIM[groupBy]),
    values: [
      tenant,
      ...rangeParams(range).slice(0, 5),
      range.dayFrom.toISOString(),
      range.dayTo.toISOString(),
    ],
  })
  // Per key: its buckets (by start), each the sum of its rows; the key's total is the sum of its buckets.
  const byKey = new Map<string, Map<number, Accumulated>>()
  for (const r of rows) {
    const start = range.bucket ? bucketStart(new Date(r.t).getTime(), range.bucket) : 0
    let buckets = byKey.get(r.key)
    if (!buckets) {
      buckets = new Map()
      byKey.set(r.key, buckets)
    }
    let b = buckets.get(start)
    if (!b) {
      b = new Accumulated()
      buckets.set(start, b)
    }
    b.add(r)
  }
  const groups: InteractionGroup[] = []
  for (const [key, buckets] of byKey) {
    const total = new Accumulated()
    const list: InteractionBucket[] = []
    for (const [start, b] of [...buckets].sort((x, y) => x[0] - y[0])) {
      total.addAll(b)
      if (range.bucket) list.push({ start: new Date(start).toISOString(), ...figures(b) })
    }
    groups.push({ key, ...figures(total), buckets: list })
  }
  return groups.sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
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
