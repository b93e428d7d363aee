// Search input: validated before any SQL (each failure a ValidationError naming the field), and
// turned into WHERE conditions on the turns `c`. Only the filters given become conditions, so each
// query's plan fits its filters; every value is a bind parameter.
import { ValidationError } from '../errors.js'
import { LIMITS } from '../store/limits.js'
import type { Metadata } from '../store/types.js'
import * as v from '../store/validate.js'
import type { SearchMode, SearchOptions } from './types.js'

export const SEARCH_LIMITS = {
  queryMax: 1000,
  limitDefault: 10,
  limitMax: 100,
  /** Each arm of a hybrid search returns this many times the limit, fused by RRF. */
  armFactor: 4,
  /**
   * Full-text matches ranked at most, the newest (src/search/fulltext.ts): bounds the cost of a search
   * for a frequent word. Well above what one search shows (an arm of hybrid takes 4 × 100 at most).
   */
  fulltextCandidates: 1000,
  userIdMax: 100,
} as const

export const SEARCH_MODES: readonly SearchMode[] = ['fulltext', 'semantic', 'hybrid']

export interface SearchFilters {
  sessionId?: string
  userId?: string
  robotPersonality?: string
  from?: Date
  to?: Date
  metadata?: Metadata
}

export interface ValidSearch {
  query: string
  mode?: SearchMode
  filters: SearchFilters
  limit: number
}

export function validateSearch(input: SearchOptions): ValidSearch {
  const o = v.requireObject('search', input) as unknown as SearchOptions
  const query = v.text('query', o.query, SEARCH_LIMITS.queryMax)
  if (query.trim() === '') throw new ValidationError('query', 'must not be empty')
  let mode: SearchMode | undefined
  if (o.mode !== undefined && o.mode !== null) {
    if (!SEARCH_MODES.includes(o.mode as SearchMode))
      throw new ValidationError('mode', `must be one of ${SEARCH_MODES.join(', ')}`)
    mode = o.mode
  }
  return {
    query,
    mode,
    filters: validateFilters(o),
    limit: v.limit('limit', o.limit, SEARCH_LIMITS.limitDefault, SEARCH_LIMITS.limitMax),
  }
}

export function validateFilters(o: Omit<SearchOptions, 'query'>): SearchFilters {
  const f: SearchFilters = {}
  if (o.sessionId != null) f.sessionId = v.identifier('sessionId', o.sessionId, LIMITS.sessionIdMax)
  if (o.userId != null) f.userId = v.identifier('userId', o.userId, SEARCH_LIMITS.userIdMax)
  if (o.robotPersonality != null)
    f.robotPersonality = v.identifier('robotPersonality', o.robotPersonality, LIMITS.nameMax)
  if (o.from != null) f.from = v.timestamp('from', o.from)
  if (o.to != null) f.to = v.timestamp('to', o.to)
  if (f.from && f.to && f.from.getTime() >= f.to.getTime())
    throw new ValidationError('to', 'must be later than from')
  if (o.metadata != null) {
    const m = v.metadata('metadata', o.metadata)
    if (Object.keys(m).length > 0) f.metadata = m
  }
  return f
}

/**
 * WHERE conditions (joined by AND, each starting with ' AND ') for the filters on turns `c`, with
 * bind parameters numbered from `first`. The tenant condition is the caller's.
 */
export function filterConditions(f: SearchFilters, first: number): { sql: string; values: unknown[] } {
  const values: unknown[] = []
  const param = (value: unknown) => {
    values.push(value)
    return `$${first + values.length - 1}`
  }
  let sql = ''
  if (f.sessionId !== undefined) {
    // The session's span of turn times (migration 0009) bounds created_at, so only the partitions
    // inside it are read (pruned when the statement runs: the span is read first, once). Unknown
    // span (NULL): every partition; no session: no turns.
    const id = param(f.sessionId)
    const span = (edge: 'turns_from' | 'turns_to', none: string) =>
      `(SELECT coalesce(s.${edge}, '${none}'::timestamptz) FROM robot_brain.sessions s
        WHERE s.tenant_id = robot_brain.current_tenant() AND s.id = ${id}::text)`
    sql += ` AND c.session_id = ${id}::text
      AND c.created_at >= ${span('turns_from', '-infinity')} AND c.created_at <= ${span('turns_to', 'infinity')}`
  }
  if (f.robotPersonality !== undefined) sql += ` AND c.robot_personality = ${param(f.robotPersonality)}::text`
  if (f.from !== undefined) sql += ` AND c.created_at >= ${param(f.from.toISOString())}::timestamptz`
  if (f.to !== undefined) sql += ` AND c.created_at < ${param(f.to.toISOString())}::timestamptz`
  if (f.metadata !== undefined) sql += ` AND c.metadata @> ${param(JSON.stringify(f.metadata))}::jsonb`
  if (f.userId !== undefined) {
    sql += ` AND EXISTS (SELECT FROM robot_brain.sessions s
      WHERE s.tenant_id = c.tenant_id AND s.id = c.session_id AND s.user_id = ${param(f.userId)}::text)`
  }
  return { sql, values }
}

/** Whether the filters narrow to few turns, so an exact (non-index) vector search is the better plan. */
export function isSelective(f: SearchFilters): boolean {
  return f.sessionId !== undefined || f.userId !== undefined
}
