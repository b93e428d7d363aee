// Interaction analytics: per robot or per interaction type, counts, successes, success rate and
// duration avg, p50, p95, p99 and max, over a range and optionally per bucket. From
// interaction_day_rollups (whole UTC days, one row per day and robot or type), interaction_rollups (the
// whole hours outside them, or every hour when the bucket is an hour) and the raw events of the partial
// hours at the ends; closed days from their stored answers (closed-days.ts), and a partial day at an
// end as its whole day less the part outside the range where that part is smaller. The rows come back
// as they are stored and are added here, per bucket and key, sketches included (sketches are exact to
// merge): SQL never expands a sketch into rows. Also the latest failures of the range, from the partial
// index on failed events.
import { type DbPool, type Queryable, withTransaction } from '../db/pool.js'
import { ANALYTICS_READ, DIM_COLUMN, type Dim, EPOCH_CTE, fillClosedDays, QUANTILES } from './closed-days.js'
import { fillClosedSuffixes } from './closed-suffixes.js'
import {
  bucketStart,
  complementParams,
  partialHourRows,
  rangeParams,
  type TimeRange,
  tailParams,
} from './range.js'
import { DenseSketch, type Sketch } from './sketch.js'
import { utcDay, utcHour } from './utc.js'

export const GROUP_BY = ['robotId', 'interactionType'] as const
export type GroupBy = (typeof GROUP_BY)[number]

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

/**
 * The dimension code of each grouping in interaction_day_rollups (migration 0016); its column is
 * DIM_COLUMN's (closed-days.ts).
 */
const DIM: Record<GroupBy, Dim> = { robotId: 'r', interactionType: 't' }

/**
 * interaction_rollups rows (as `r`) of two hour intervals [from, to), each read only where its guard
 * holds; goes after `CROSS JOIN LATERAL` on ctx.
 */
const hourRows = (...intervals: [guard: string, from: string, to: string][]) =>
  `(${intervals
    .map(
      ([guard, from, to]) => `
  SELECT * FROM robot_brain.interaction_rollups r
  WHERE ${guard} AND r.tenant_id = ctx.tenant_id AND r.hour >= ${from}::timestamptz AND r.hour < ${to}::timestamptz`,
    )
    .join('\n  UNION ALL')}
) r`

// $1 tenant, $2 from, $3 to, $4 whole-hours from, $5 whole-hours to, $6 edge hours, $7 whole-days from,
// $8 whole-days to, $9 whether to use closed-day answers. One row per day and key for the whole days
// ('d'), per hour, robot and type for the whole hours outside them ('h'), per hour and key for the
// partial hours (raw events, 'h'); the application adds them into buckets and totals. With answers, a
// closed day of the range that has one comes without its sketch but with its percentiles, and each key
// adds ('c') the running sketches of its last answered day in the range and of its last answered day
// before it: their difference is the sketch of those closed days. Sketches come back as text (entries,
// and the jsonb of hours merged before migration 0016), or as bytes where a cache stores them packed
// (migration 0022), parsed and added in the application.
// The answer of a day is a subquery in the select list, not a join: a join would let the planner
// equate the tenant of every table with the row-security expression and read a table before ctx has
// set the tenant. $10 to $16 are the partial days' complements (complementParams in range.ts): the
// whole hours of a complemented partial day bring their figures but not their sketch, which is the
// day's ('p') less its hourly rows outside the range and in the edge hour ('x'), plus the raw events
// of the edge hour inside the range (which bring their sketch in every case): the part of the edge
// hour outside the range is its hourly row less the part inside, so it is never read raw.
// $17 to $19 (tailParams in range.ts): where nothing is stored after $3 in the partial end day, that
// day comes as its daily rows ('d', not closed), and its hours, its complement and the raw rows of
// its last partial hour are not read.
// A partial start day with whole hours ($20) that is closed, with answers ($9), comes instead as its
// stored suffix from $4 ('s', closed-suffixes.ts) and the figures of those hours summed in SQL: one
// row a key in place of its 'p' and 'x' rows (complemented) or of its hourly rows with their sketches
// (not: up to twelve hours a key, 900 rows by robot at 14:47 UTC), with `closed` true only when the
// suffix holds as many events as the day's hourly rows from $4 (a row missing or stale: the caller
// fills and reads again).
/** SQL: the partial end day is not read whole (see `tail` in the query). */
const NOT_WHOLE = 'NOT (SELECT whole FROM tail)'
/** SQL: the partial start day comes as its stored suffix (see `suffix` in the query). */
const SUFFIX = '(SELECT used FROM suffix)'

const query = (key: string, dim: string) => `
WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant($1) AS tenant_id),
${EPOCH_CTE},
-- Whether the partial end day ($17) is read whole, as its daily rows: when nothing is stored in it
-- after $3, neither in a later hour ($18 to $19) nor in the hour of $3 after $3 (raw rows of the
-- robots that hour's rollups list). Rollups and raw rows are written by one statement, and this reads
-- one snapshot: what it does not see, no other part of the answer sees.
tail AS MATERIALIZED (
  SELECT $17::boolean
     AND NOT EXISTS (
       SELECT 1 FROM robot_brain.interaction_rollups r
       WHERE r.tenant_id = ctx.tenant_id AND r.hour >= $18::timestamptz AND r.hour < $19::timestamptz)
     AND NOT EXISTS (
       SELECT 1
       FROM (SELECT DISTINCT r.robot_id FROM robot_brain.interaction_rollups r
             WHERE r.tenant_id = ctx.tenant_id AND r.hour = date_trunc('hour', $3::timestamptz, 'UTC')) k
       CROSS JOIN LATERAL (
         SELECT 1 FROM robot_brain.robot_interactions x
         WHERE x.tenant_id = $1::text AND x.robot_id = k.robot_id
           AND x.created_at >= $3::timestamptz AND x.created_at < $18::timestamptz
         LIMIT 1
       ) x) AS whole
  FROM ctx
),
-- Whether the partial start day (holding $10, with whole hours from $4: $20) is read as its stored
-- suffix: it is closed, complemented ($15) or not.
suffix AS MATERIALIZED (
  SELECT $9::boolean AND $20::boolean AND $10::timestamptz < ep.closed_before AS used FROM ep
),
-- The figures of the whole hours of a partial start day complemented or read as its suffix, per key
-- ($4 to $7).
start_hours AS MATERIALIZED (
  SELECT r.${key} AS key, sum(r.events)::bigint AS events, sum(r.successes)::bigint AS successes,
         sum(r.duration_sum)::float8 AS duration_sum, max(r.duration_max) AS duration_max
  FROM ctx CROSS JOIN LATERAL ${hourRows([`($15::boolean OR ${SUFFIX})`, '$4', '$7'])}
  GROUP BY 1
),
days AS MATERIALIZED (
  SELECT d.day, d.key, d.events, d.successes, d.duration_sum, d.duration_max, d.closed, d.answer,
         CASE WHEN d.answer IS NULL THEN d.sketch_entries::text END AS entries
  FROM (
    SELECT d.day, d.key, d.events, d.successes, d.duration_sum, d.duration_max, d.sketch_entries,
           d.day < ep.closed_before AS closed,
           -- The answer on the daily row (migration 0022), else in interaction_closed_days (a probe).
           CASE WHEN NOT ($9::boolean AND d.day < ep.closed_before) THEN NULL
                WHEN d.day_answer_epoch = ep.epoch THEN d.day_answer
                ELSE (
             SELECT ARRAY[a.p50, a.p95, a.p99] FROM robot_brain.interaction_closed_days a
             WHERE a.tenant_id = ctx.tenant_id AND a.dim = '${dim}' AND a.key = d.key AND a.day = d.day
               AND a.epoch = ep.epoch
           ) END AS answer
    FROM ctx CROSS JOIN ep CROSS JOIN LATERAL (
      SELECT * FROM robot_brain.interaction_day_rollups d
      WHERE d.tenant_id = ctx.tenant_id AND d.dim = '${dim}' AND d.day >= $7::timestamptz AND d.day < $8::timestamptz
    ) d
    -- Not flattened: flattening copied the answer's subquery into both of its uses, running it twice a day.
    OFFSET 0
  ) d
)
-- Times as epoch milliseconds and an answer as three numbers: a month by robot is a thousand rows,
-- and parsing their dates and arrays was a tenth of the answer's time in the application.
SELECT u.kind, date_part('epoch', u.t) * 1000 AS t, u.key, u.events, u.successes, u.duration_sum, u.duration_max,
       u.sketch, u.entries, u.buckets, u.closed, u.answer[1] AS p50, u.answer[2] AS p95, u.answer[3] AS p99, u.packed
FROM (
SELECT 'd' AS kind, d.day AS t, d.key, d.events, d.successes, d.duration_sum::float8 AS duration_sum, d.duration_max,
       NULL::jsonb AS sketch, d.entries, NULL::text AS buckets, d.closed, d.answer, NULL::bytea AS packed
FROM days d
UNION ALL
SELECT 'c', c.day, k.key, c.run_events, 0, 0, 0, NULL, c.run_sketch, NULL, c.day >= $7::timestamptz, NULL, c.run_packed
FROM (SELECT DISTINCT key FROM days WHERE $9::boolean AND closed) k CROSS JOIN ctx CROSS JOIN ep CROSS JOIN LATERAL (
  (SELECT c.day, c.run_events, CASE WHEN c.run_packed IS NULL THEN c.run_sketch::text END AS run_sketch, c.run_packed
   FROM robot_brain.interaction_closed_days c
   WHERE c.tenant_id = ctx.tenant_id AND c.dim = '${dim}' AND c.key = k.key AND c.epoch = ep.epoch
     AND c.day >= $7::timestamptz AND c.day < least($8::timestamptz, ep.closed_before)
   ORDER BY c.day DESC LIMIT 1)
  UNION ALL
  (SELECT c.day, c.run_events, CASE WHEN c.run_packed IS NULL THEN c.run_sketch::text END, c.run_packed
   FROM robot_brain.interaction_closed_days c
   WHERE c.tenant_id = ctx.tenant_id AND c.dim = '${dim}' AND c.key = k.key AND c.epoch = ep.epoch
     AND c.day < $7::timestamptz
   ORDER BY c.day DESC LIMIT 1)
) c
UNION ALL
SELECT 'h', r.hour, r.${key}, r.events, r.successes, r.duration_sum::float8, r.duration_max,
       nullif(r.sketch, '{}'::jsonb), r.sketch_entries::text, NULL, false, NULL, NULL
FROM ctx CROSS JOIN LATERAL ${hourRows([`NOT $15::boolean AND NOT ${SUFFIX}`, '$4', '$7'], [`NOT $16::boolean AND ${NOT_WHOLE}`, '$8', '$5'])}
UNION ALL
-- The whole hours of a partial start day complemented or read as its suffix: their figures only,
-- added up per key (at $10, a time of that day).
SELECT 'h', $10::timestamptz, f.key, f.events, f.successes, f.duration_sum, f.duration_max,
       NULL, NULL, NULL, false, NULL, NULL
FROM start_hours f
UNION ALL
SELECT 'h', ${utcDay('r.hour')}, r.${key}, sum(r.events)::bigint, sum(r.successes)::bigint,
       sum(r.duration_sum)::float8, max(r.duration_max), NULL, NULL, NULL, false, NULL, NULL
FROM ctx CROSS JOIN LATERAL ${hourRows([`$16::boolean AND ${NOT_WHOLE}`, '$8', '$5'])}
GROUP BY 2, 3
UNION ALL
-- A closed partial start day's stored suffix ('s'): its sketch, closed when it holds the events of
-- the hourly rows it stands for.
SELECT 's', $10::timestamptz, f.key, 0, 0, 0, 0, NULL, NULL, NULL,
       coalesce(s.events, 0) = f.events, NULL, s.sketch
FROM start_hours f CROSS JOIN ctx CROSS JOIN ep LEFT JOIN LATERAL (
  SELECT s.events, s.sketch FROM robot_brain.interaction_closed_suffixes s
  WHERE s.tenant_id = ctx.tenant_id AND s.dim = '${dim}' AND s.key = f.key AND s.since = $4::timestamptz
    AND s.epoch = ep.epoch
) s ON true
WHERE ${SUFFIX}
UNION ALL
-- The partial hours: raw events of the robots the rollups list in those hours (index lookups), each
-- hour and key with the sketch bucket of every event, which the application counts: one aggregation,
-- not one per bucket and then one of entries (an edge hour holds thousands of events).
SELECT 'h', hour, key, count(*), count(*) FILTER (WHERE success), sum(duration_ms)::float8, max(duration_ms),
       NULL::jsonb, NULL, array_agg(robot_brain.sketch_index(duration_ms))::text, false, NULL, NULL
FROM (
  SELECT ${utcHour('x.created_at')} AS hour, x.${key} AS key, x.duration_ms, x.success
  FROM ctx CROSS JOIN LATERAL ${partialHourRows('interaction_rollups', 'robot_interactions', 'robot_id', NOT_WHOLE)}
) e
GROUP BY 2, 3
UNION ALL
-- Complemented partial days: the day's sketch ('p') ...
SELECT 'p', d.day, d.key, 0, 0, 0, 0, NULL, d.sketch_entries::text, NULL, false, NULL, NULL
FROM ctx CROSS JOIN unnest($14::timestamptz[]) p(day) CROSS JOIN LATERAL (
  -- One index lookup a day (not flattened into a join): with "day = ANY ($14)", or as a join, the
  -- planner read every day of the key under row-level security and filtered.
  SELECT * FROM robot_brain.interaction_day_rollups d
  WHERE d.tenant_id = ctx.tenant_id AND d.dim = '${dim}' AND d.day = p.day
  OFFSET 0
) d
WHERE (p.day <> $8::timestamptz OR ${NOT_WHOLE}) AND NOT (p.day = $10::timestamptz AND ${SUFFIX})
UNION ALL
-- ... less its hourly rows outside the range, the edge hour's included ('x'); the raw events of the
-- edge hour inside the range (above) add that part back.
SELECT 'x', r.hour, r.${key}, 0, 0, 0, 0, nullif(r.sketch, '{}'::jsonb), r.sketch_entries::text, NULL, false, NULL, NULL
FROM ctx CROSS JOIN LATERAL ${hourRows([`NOT ${SUFFIX}`, '$10', '$11'], [NOT_WHOLE, '$12', '$13'])}
UNION ALL
-- The partial end day read whole (tail): its daily rows, which hold exactly the part in the range.
SELECT 'd', d.day, d.key, d.events, d.successes, d.duration_sum::float8, d.duration_max, NULL,
       d.sketch_entries::text, NULL, false, NULL, NULL
FROM ctx CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.interaction_day_rollups d
  WHERE (SELECT whole FROM tail) AND d.tenant_id = ctx.tenant_id AND d.dim = '${dim}' AND d.day = $8::timestamptz
) d
) u`

interface Row {
  /**
   * 'd' a whole day, 'h' an hour (rollup or raw), 'c' a running sketch of closed days; for a
   * complemented partial day, 'p' the whole day's sketch and 'x' a sketch outside the range to take
   * away, or 's' its stored suffix (a closed start day).
   */
  kind: 'd' | 'h' | 'c' | 'p' | 'x' | 's'
  /** Epoch milliseconds. */
  t: number
  key: string
  events: string
  successes: string
  duration_sum: number
  duration_max: number
  sketch: Sketch | null
  entries: string | null
  /** Raw events of a partial hour: the sketch bucket of each, as int[] text (one entry per event). */
  buckets: string | null
  /** 'c' and 's': the sketch packed (sketch.ts), where it is stored so ('c' rows before migration 0022 come as `entries`). */
  packed: Uint8Array | null
  /**
   * 'd': the day is closed (answers may exist); 'c': the end of the range's closed days (else the
   * start); 's': the stored suffix holds the events it stands for (else it is missing or stale).
   */
  closed: boolean
  /** 'd': the closed day's p50, p95 and p99 from its answer, when it has one (else null). */
  p50: number | null
  p95: number | null
  p99: number | null
}

class Accumulated {
  events = 0
  successes = 0
  durationSum = 0
  durationMax = 0
  /** Made on the first sketch added: an answered day brings none, and a month by day has hundreds of them. */
  private dense: DenseSketch | null = null
  get sketch(): DenseSketch {
    this.dense ??= new DenseSketch()
    return this.dense
  }
  /** Percentiles read from a closed-day answer (a day bucket of one answered day), not from the sketch. */
  answered: [number, number, number] | null = null

  add(r: Row): void {
    this.events += Number(r.events)
    this.successes += Number(r.successes)
    this.durationSum += r.duration_sum
    this.durationMax = Math.max(this.durationMax, r.duration_max)
    const sign = r.kind === 'x' ? -1 : 1
    if (r.entries) this.sketch.addEntries(r.entries, sign)
    if (r.packed) this.sketch.addPacked(r.packed, sign)
    if (r.buckets) this.sketch.addBuckets(r.buckets, sign)
    if (r.sketch) this.sketch.addObject(r.sketch, sign)
  }

  addAll(a: Accumulated): void {
    this.events += a.events
    this.successes += a.successes
    this.durationSum += a.durationSum
    this.durationMax = Math.max(this.durationMax, a.durationMax)
    if (a.dense) this.sketch.addSketch(a.dense)
  }
}

function figures(a: Accumulated): InteractionFigures {
  const [p50, p95, p99] = a.answered ?? a.sketch.quantiles(QUANTILES, a.durationMax)
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

export interface InteractionDeps {
  /** Where the answer is read (a replica when one is fresh). */
  reader: DbPool
  /** Where missing closed-day answers are written (the primary), which then gives that answer. */
  writer: () => Promise<DbPool>
  retry<T>(fn: () => Promise<T>): Promise<T>
}

/** Where closed-day answers help: a day bucket is one answered day, and totals need two running sketches a key. */
const answersHelp = (range: TimeRange) =>
  range.dayFrom.getTime() < range.dayTo.getTime() && (range.bucket === null || range.bucket === 'day')

/** Whether the range starts in a partial day with whole hours in the range, before whole days: it may be read as its suffix. */
const suffixStart = (range: TimeRange) =>
  range.wholeFrom.getTime() < range.dayFrom.getTime() && range.dayFrom.getTime() < range.dayTo.getTime()

export async function interactionStats(
  deps: InteractionDeps,
  tenant: string,
  range: TimeRange,
  groupBy: GroupBy,
): Promise<InteractionGroup[]> {
  const read = (pool: DbPool, answers: boolean) =>
    deps.retry(async () => {
      const { rows } = await withTransaction(
        pool,
        (client) =>
          client.query<Row>({
            text: query(DIM_COLUMN[DIM[groupBy]], DIM[groupBy]),
            values: [
              tenant,
              ...rangeParams(range).slice(0, 5),
              range.dayFrom.toISOString(),
              range.dayTo.toISOString(),
              answers,
              ...complementParams(range),
              range.complement.start,
              range.complement.end,
              ...tailParams(range),
              suffixStart(range),
            ],
          }),
        ANALYTICS_READ,
      )
      return assemble(rows, range, answers)
    })
  if (!answersHelp(range)) return (await read(deps.reader, false)) as InteractionGroup[]
  const first = await read(deps.reader, true)
  if (first) return first
  // Closed days without answers (or a closed start day without its suffix): computed on the primary,
  // which then answers (a replica may not have them yet); from the daily sketches if a late write
  // voided them meanwhile.
  const primary = await deps.writer()
  await deps.retry(() => fillClosedDays(primary, tenant, DIM[groupBy]))
  if (suffixStart(range)) {
    await deps.retry(() => fillClosedSuffixes(primary, tenant, DIM[groupBy], range.wholeFrom))
  }
  return (await read(primary, true)) ?? ((await read(primary, false)) as InteractionGroup[])
}

/**
 * Adds the rows into groups and buckets; null when closed days of the range lack answers (or their
 * running sketches do not account for exactly their events), so the caller fills them or reads without.
 */
function assemble(rows: Row[], range: TimeRange, answers: boolean): InteractionGroup[] | null {
  // Per key: its buckets (by start), each the sum of its rows; the key's total is the sum of its
  // buckets, except that answered days bring no sketch: the running sketches stand for them.
  const byKey = new Map<
    string,
    { buckets: Map<number, Accumulated>; answeredEvents: number; start?: Row; end?: Row }
  >()
  for (const r of rows) {
    let k = byKey.get(r.key)
    if (!k) {
      k = { buckets: new Map(), answeredEvents: 0 }
      byKey.set(r.key, k)
    }
    if (r.kind === 'c') {
      if (r.closed) k.end = r
      else k.start = r
      continue
    }
    if (r.kind === 's' && !r.closed) return null
    const answered = r.kind === 'd' && r.p50 !== null
    if (answers && r.kind === 'd' && r.closed && !answered) return null
    const start = range.bucket ? bucketStart(r.t, range.bucket) : 0
    let b = k.buckets.get(start)
    if (!b) {
      b = new Accumulated()
      k.buckets.set(start, b)
    }
    b.add(r)
    if (answered) {
      k.answeredEvents += Number(r.events)
      // A day bucket holds exactly one whole day; hours of partial days are other buckets.
      if (range.bucket === 'day') b.answered = [r.p50 as number, r.p95 as number, r.p99 as number]
    }
  }
  const groups: InteractionGroup[] = []
  for (const [key, k] of byKey) {
    const total = new Accumulated()
    if (k.answeredEvents > 0) {
      // The answered days' sketch: the running sketch at the last of them less the one before them,
      // added straight into the key's total (still empty here), so that it must hold their events.
      if (!k.end) return null
      total.sketch.addEntries(k.end.entries)
      total.sketch.addPacked(k.end.packed)
      total.sketch.addEntries(k.start?.entries ?? null, -1)
      total.sketch.addPacked(k.start?.packed ?? null, -1)
      if (Number(k.end.events) - Number(k.start?.events ?? 0) !== k.answeredEvents) return null
      if (total.sketch.total !== k.answeredEvents) return null
    }
    const list: InteractionBucket[] = []
    for (const [start, b] of [...k.buckets].sort((x, y) => x[0] - y[0])) {
      // A bucket of complement rows only (events outside the range) holds nothing of the range.
      if (b.events === 0) continue
      total.addAll(b)
      if (range.bucket) list.push({ start: new Date(start).toISOString(), ...figures(b) })
    }
    if (total.events > 0) groups.push({ key, ...figures(total), buckets: list })
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
