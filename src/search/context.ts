// Context for an LLM: the newest turns of a session that fit a token budget (oldest first), plus,
// with a query, older turns of the same user (or, without one, the same session) that match it.
// With a query, recent turns may take up to RECENT_SHARE of the budget, so relevant ones have room;
// whatever one part leaves unused the other may take. Every turn counted with tokens.ts.
import type { Turn } from '../store/types.js'
import { turnTokens } from './tokens.js'
import type { ContextResult, SearchResponse } from './types.js'

export const CONTEXT_LIMITS = { maxTokensDefault: 4000, maxTokensMax: 1_000_000 } as const
const RECENT_SHARE = 0.75
const PAGE = 100
const RELEVANT_CANDIDATES = 20

export interface ContextSource {
  /** A page of the session's turns, newest first. */
  history(before: string | null, limit: number): Promise<{ turns: Turn[]; nextCursor: string | null }>
  /** Search among older turns: the caller filters by the session's user, or by the session. */
  search(query: string, limit: number): Promise<SearchResponse>
}

export async function buildContext(
  source: ContextSource,
  maxTokens: number,
  query?: string,
): Promise<ContextResult> {
  // The newest turns that fit the whole budget, newest first, with their token counts.
  const candidates: Array<{ turn: Turn; tokens: number }> = []
  let used = 0
  let cursor: string | null = null
  let full = false
  do {
    const page = await source.history(cursor, PAGE)
    for (const turn of page.turns) {
      const t = turnTokens(turn)
      if (used + t > maxTokens) {
        full = true
        break
      }
      candidates.push({ turn, tokens: t })
      used += t
    }
    cursor = page.nextCursor
  } while (!full && cursor)
  if (!query) {
    return { recent: candidates.map((c) => c.turn).reverse(), relevant: [], tokens: used }
  }

  // With a query: recent turns up to their share, then relevant older turns, then more recent ones
  // in what is left.
  let tokens = 0
  let n = 0
  const recentBudget = Math.floor(maxTokens * RECENT_SHARE)
  while (n < candidates.length && tokens + (candidates[n]?.tokens ?? 0) <= recentBudget) {
    tokens += candidates[n]?.tokens ?? 0
    n++
  }
  const inRecent = new Set(candidates.slice(0, n).map((c) => c.turn.id))
  const relevant: ContextResult['relevant'] = []
  const { results } = await source.search(query, RELEVANT_CANDIDATES)
  for (const r of results) {
    if (inRecent.has(r.turn.id)) continue
    const t = turnTokens(r.turn)
    if (tokens + t > maxTokens) continue
    relevant.push({ turn: r.turn, score: r.score })
    tokens += t
  }
  const inRelevant = new Set(relevant.map((r) => r.turn.id))
  const recent: Turn[] = candidates.slice(0, n).map((c) => c.turn)
  for (const c of candidates.slice(n)) {
    if (inRelevant.has(c.turn.id)) continue
    if (tokens + c.tokens > maxTokens) break
    recent.push(c.turn)
    tokens += c.tokens
  }
  return { recent: recent.reverse(), relevant, tokens }
}
