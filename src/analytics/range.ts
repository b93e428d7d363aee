// The time range and bucketing of an analytics query: validated, and split into the whole hours the
// rollups answer and the partial hours at either end that are read from raw rows (at most two hours
// of them), so any from/to, at any offset, gives exact figures.
import { ValidationError } from '../errors.js'
import * as v from '../store/validate.js'

export const BUCKETS = ['hour', 'day', 'week', 'month'] as const
export type Bucket = (typeof BUCKETS)[number]

const HOUR_MS = 3_600_000
/** Five years (with leap days): the longest range one query may cover. */
export const MAX_RANGE_MS = (5 * 365 + 2) * 24 * HOUR_MS
/** The default range when `from` is not given: the 30 days before `to`. */
export const DEFAULT_RANGE_MS = 30 * 24 * HOUR_MS
/** Most buckets one answer may list per key (an hour bucket over years would be huge). */
export const MAX_BUCKETS = 10_000
const BUCKET_MS: Record<Bucket, number> = {
  hour: HOUR_MS,
  day: 24 * HOUR_MS,
  week: 7 * 24 * HOUR_MS,
  month: 28 * 24 * HOUR_MS,
}

export interface RangeInput {
  /** Inclusive; ISO 8601 with any offset, or a Date. Default: 30 days before `to`. */
  from?: string | Date
  /** Exclusive; default now. */
  to?: string | Date
  /** hour | day | week (ISO, from Monday) | month, in UTC. Without it, figures cover the whole range. */
  bucket?: Bucket | null
}

export interface TimeRange {
  from: Date
  to: Date
  bucket: Bucket | null
  /** Whole hours [wholeFrom, wholeTo) answered from rollups; empty when wholeFrom >= wholeTo. */
  wholeFrom: Date
  wholeTo: Date
  /** The hours holding the partial ends (read from raw rows); none when both ends are on the hour. */
  edgeHours: Date[]
  /**
   * Whole UTC days [dayFrom, dayTo) inside the whole hours, answered from daily rollups where they
   * exist; the whole hours outside them come from hourly rows. Empty (both at wholeFrom) when the
   * range holds no whole day or the bucket is an hour.
   */
  dayFrom: Date
  dayTo: Date
  /**
   * The partial days at either end, when the range holds whole days: the day holding `from` (before
   * dayFrom) and the day holding `to` (from dayTo). Where the part of such a day outside the range has
   * fewer hours than the part inside, its sketch is the day's (one daily row a key) less the outside
   * part's, instead of the sum of the inside hours (src/analytics/interactions.ts): a range ending now
   * then reads today as one row a key, not one per hour.
   */
  complement: { start: boolean; end: boolean }
}

const DAY_MS = 24 * HOUR_MS
const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS
const ceilHour = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS

export function timeRange(input: RangeInput, now: Date = new Date()): TimeRange {
  const to = input.to === undefined || input.to === null ? now : v.timestamp('to', input.to)
  const from =
    input.from === undefined || input.from === null
      ? new Date(to.getTime() - DEFAULT_RANGE_MS)
      : v.timestamp('from', input.from)
  if (from.getTime() > to.getTime()) throw new ValidationError('from', 'must not be after to')
  if (to.getTime() - from.getTime() > MAX_RANGE_MS) {
    throw new ValidationError('to', 'must be at most 5 years after from')
  }
  const bucket = input.bucket === undefined || input.bucket === null ? null : input.bucket
  if (bucket !== null && !(BUCKETS as readonly string[]).includes(bucket)) {
    throw new ValidationError('bucket', `must be one of ${BUCKETS.join(', ')}`)
  }
  if (bucket && (to.getTime() - from.getTime()) / BUCKET_MS[bucket] > MAX_BUCKETS) {
    throw new ValidationError(
      'bucket',
      `gives more than ${MAX_BUCKETS} buckets for this range: use a larger one`,
    )
  }
  const wholeFrom = ceilHour(from.getTime())
  const wholeTo = floorHour(to.getTime())
  const edgeHours: Date[] = []
  if (from.getTime() % HOUR_MS !== 0) edgeHours.push(new Date(floorHour(from.getTime())))
  const lastHour = floorHour(to.getTime())
  if (to.getTime() % HOUR_MS !== 0 && !edgeHours.some((h) => h.getTime() === lastHour)) {
    edgeHours.push(new Date(lastHour))
  }
  let dayFrom = Math.ceil(wholeFrom / DAY_MS) * DAY_MS
  let dayTo = Math.floor(wholeTo / DAY_MS) * DAY_MS
  if (bucket === 'hour' || dayFrom >= dayTo) {
    dayFrom = wholeFrom
    dayTo = wholeFrom
  }
  const hasDays = dayFrom < dayTo
  const fromMs = from.getTime()
  const toMs = to.getTime()
  // Hours of rollup rows each way; the raw rows of a partial hour are read either way.
  const startInside = (dayFrom - wholeFrom) / HOUR_MS
  const startOutside = (floorHour(fromMs) - Math.floor(fromMs / DAY_MS) * DAY_MS) / HOUR_MS
  const endInside = (wholeTo - dayTo) / HOUR_MS
  const endOutside = (dayTo + DAY_MS - ceilHour(toMs)) / HOUR_MS
  return {
    from,
    to,
    bucket,
    wholeFrom: new Date(wholeFrom),
    wholeTo: new Date(wholeTo),
    edgeHours,
    dayFrom: new Date(dayFrom),
    dayTo: new Date(dayTo),
    complement: {
      start: hasDays && fromMs < dayFrom && startOutside < startInside,
      end: hasDays && toMs > dayTo && endOutside < endInside,
    },
  }
}

/** The start of the UTC bucket holding `ms`, as date_trunc(bucket, t, 'UTC') gives it (weeks from Monday). */
export function bucketStart(ms: number, bucket: Bucket): number {
  switch (bucket) {
    case 'hour':
      return floorHour(ms)
    case 'day':
      return Math.floor(ms / DAY_MS) * DAY_MS
    case 'week': {
      const day = Math.floor(ms / DAY_MS) * DAY_MS
      return day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS
    }
    case 'month': {
      const d = new Date(ms)
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
    }
  }
}

/**
 * The parameters of the partial days' complements (see TimeRange.complement), in this order: the
 * hourly rows to take away before the range [a, b) and after it [c, d), and the days whose daily rows
 * stand for the partial days. Those hours include the edge hour (the one holding `from`, or `to`): its
 * part outside the range is its hourly row less its part inside, whose raw rows the query reads
 * anyway. A side without complement gets empty intervals.
 */
export function complementParams(r: TimeRange): unknown[] {
  const from = r.from.getTime()
  const to = r.to.getTime()
  const a = r.complement.start ? Math.floor(from / DAY_MS) * DAY_MS : from
  const b = r.complement.start ? ceilHour(from) : from
  const c = r.complement.end ? floorHour(to) : to
  const d = r.complement.end ? r.dayTo.getTime() + DAY_MS : c
  const days: string[] = []
  if (r.complement.start) days.push(new Date(a).toISOString())
  if (r.complement.end) days.push(r.dayTo.toISOString())
  const iso = (ms: number) => new Date(ms).toISOString()
  return [iso(a), iso(b), iso(c), iso(d), days]
}

/**
 * The parameters of the end day read whole (interactions): whether the range ends inside a day after
 * whole days (a partial end day), the end of the hour holding `to`, and the end of the day holding
 * `to`. Where nothing is stored in that day after `to` (a range ending now, the usual one), the day's
 * daily row is exactly the part inside the range, figures, max and sketch alike: the query then reads
 * one row a key for it, not its hours and the raw rows of its last partial hour.
 */
export function tailParams(r: TimeRange): unknown[] {
  const to = r.to.getTime()
  const partialEndDay = r.dayFrom.getTime() < r.dayTo.getTime() && to > r.dayTo.getTime()
  return [
    partialEndDay,
    new Date(ceilHour(to)).toISOString(),
    new Date(r.dayTo.getTime() + DAY_MS).toISOString(),
  ]
}

/** The SQL parameters every analytics query takes after the tenant: $2..$7. */
export function rangeParams(r: TimeRange): unknown[] {
  return [
    r.from.toISOString(),
    r.to.toISOString(),
    r.wholeFrom.toISOString(),
    r.wholeTo.toISOString(),
    r.edgeHours.map((h) => h.toISOString()),
    r.bucket,
  ]
}

/** The parts of the edge hours inside the range, as SQL (rangeParams' $2 to $5): before and after the whole hours. */
const INSIDE_EDGES = [
  ['$2::timestamptz', 'least($3::timestamptz, $4::timestamptz)'],
  ['greatest($2::timestamptz, $5::timestamptz, least($3::timestamptz, $4::timestamptz))', '$3::timestamptz'],
] as const

/**
 * The raw rows (as `x`) of the partial hours at either end of a range, for the keys (`column`: a robot,
 * a session) that the rollups list in those edge hours: index lookups per key, never a scan. Uses the
 * parameters of rangeParams ($2 from, $3 to, $4 and $5 the whole hours, $6 the edge hours) and a `ctx`
 * holding the tenant; goes after `CROSS JOIN LATERAL`. The raw rows are matched to the tenant by $1, not by ctx: a
 * custom plan then knows the tenant's share of the rows (by ctx, it assumed an average tenant's, which
 * on a table shared with a much bigger tenant overestimated the rows a hundredfold).
 */
export function partialHourRows(rollups: string, table: string, column: string, afterGuard = 'true'): string {
  // Two index ranges, before and after the whole hours: one range with the whole hours filtered out
  // lets the planner read every row of the key in between and keep the few it needs. The one after
  // is read only where afterGuard (SQL) holds.
  const [before, after] = INSIDE_EDGES.map(
    ([from, to], i) => `SELECT * FROM robot_brain.${table} x
    WHERE ${i === 0 ? '' : `${afterGuard} AND `}x.tenant_id = $1::text AND x.${column} = k.${column}
      AND x.created_at >= ${from} AND x.created_at < ${to}`,
  )
  return `(
    SELECT DISTINCT r.${column} FROM robot_brain.${rollups} r
    WHERE r.tenant_id = ctx.tenant_id AND r.hour = ANY ($6::timestamptz[])
  ) k CROSS JOIN LATERAL (
    ${before}
    UNION ALL
    ${after}
  ) x`
}
