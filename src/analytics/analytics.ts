// The analytics capability the Store composes as `store.analytics`: validates the question, then asks
// the rollups. It knows nothing of the Store: it gets the tenant, a way to reach the database for
// analytics reads, and the store's retry policy.
import type { DbPool } from '../db/pool.js'
import { ValidationError } from '../errors.js'
import {
  type FailedInteraction,
  GROUP_BY,
  type GroupBy,
  type InteractionGroup,
  interactionStats,
  latestFailures,
} from './interactions.js'
import { type PersonalityStats, personalityStats } from './personalities.js'
import { type Bucket, type RangeInput, timeRange } from './range.js'

export interface AnalyticsDeps {
  tenantId: string
  /** The pool analytics read from (a replica when one is configured and fresh). */
  reader(): Promise<DbPool>
  /** The primary, where missing closed-day answers are stored (src/analytics/closed-days.ts). */
  writer(): Promise<DbPool>
  retry<T>(fn: (attempt: number) => Promise<T>): Promise<T>
}

export interface PersonalityQuery extends RangeInput {}

export interface InteractionQuery extends RangeInput {
  /** robotId (default) or interactionType. */
  groupBy?: GroupBy
  /** Also list this many of the newest failed events of the range (0 to 100; default 0). */
  failures?: number
}

export interface Window {
  from: string
  to: string
  bucket: Bucket | null
}

export interface PersonalityAnalytics extends Window {
  personalities: PersonalityStats[]
}

export interface InteractionAnalytics extends Window {
  groupBy: GroupBy
  groups: InteractionGroup[]
  /** Present when `failures` was asked for: newest first. */
  latestFailures?: FailedInteraction[]
}

export const MAX_FAILURES = 100

export class Analytics {
  constructor(private readonly deps: AnalyticsDeps) {}

  /** Per personality: turns, distinct sessions, average user message and response length. */
  async personalities(query: PersonalityQuery = {}): Promise<PersonalityAnalytics> {
    const range = timeRange(query ?? {})
    const db = await this.deps.reader()
    const personalities = await this.deps.retry(() => personalityStats(db, this.deps.tenantId, range))
    return { ...window(range), personalities }
  }

  /** Per robot or interaction type: counts, success rate, duration avg/p50/p95/p99/max. */
  async interactions(query: InteractionQuery = {}): Promise<InteractionAnalytics> {
    const range = timeRange(query ?? {})
    const groupBy = query.groupBy ?? 'robotId'
    if (!(GROUP_BY as readonly string[]).includes(groupBy)) {
      throw new ValidationError('groupBy', `must be one of ${GROUP_BY.join(', ')}`)
    }
    const failures = query.failures ?? 0
    if (!Number.isInteger(failures) || failures < 0 || failures > MAX_FAILURES) {
      throw new ValidationError('failures', `must be an integer from 0 to ${MAX_FAILURES}`)
    }
    const db = await this.deps.reader()
    const groups = await interactionStats(
      { reader: db, writer: () => this.deps.writer(), retry: (fn) => this.deps.retry(fn) },
      this.deps.tenantId,
      range,
      groupBy,
    )
    const result: InteractionAnalytics = { ...window(range), groupBy, groups }
    if (failures > 0) {
      result.latestFailures = await this.deps.retry(() =>
        latestFailures(db, this.deps.tenantId, range, failures),
      )
    }
    return result
  }
}

function window(range: ReturnType<typeof timeRange>): Window {
  return { from: range.from.toISOString(), to: range.to.toISOString(), bucket: range.bucket }
}
