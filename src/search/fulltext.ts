// Full-text search: the GIN-indexed search_vector of each turn matched with `@@` first, then only a
// bounded set of the matches ranked (ts_rank): the newest `candidates` matches
// (SEARCH_LIMITS.fulltextCandidates). Ranking reads each candidate's vector, so without the bound a
// search for a frequent word would rank every turn that has it, more with every month kept. Newest
// first because conversation memory favours the recent past; a search narrowed by its filters has
// fewer matches than the bound and ranks them all.
//
// Two plans. Narrowed to one session or one user: that session's turns (or the user's sessions') by
// their index, the session's span of turn times (migration 0009) limiting the partitions read, `@@`
// tested on each. Otherwise: robot_brain.fulltext_matches (migration 0011), which reaches the GIN
// index; a query of the runtime role cannot, because row-level security keeps a non-leakproof `@@`
// out of index conditions (every turn of the tenant was read). The query takes web search syntax
// (websearch_to_tsquery: "a phrase", -word, or) in the configuration the vectors are built with
// (robot_brain.turn_words, migration 0017): English stems, stop words kept, words of any other script
// as written.
import type { Queryable } from '../db/pool.js'
import { TURN_COLUMNS, type TurnRow } from '../store/turns.js'
import { filterConditions, isSelective, SEARCH_LIMITS, type SearchFilters } from './filters.js'

export interface FulltextRow extends TurnRow {
  score: number
  snippet: string | null
}

/** ts_headline options: two fragments around the matches, marked **like this** (plain text, not HTML). */
const HEADLINE = 'MaxFragments=2, MaxWords=20, MinWords=8, StartSel=**, StopSel=**, FragmentDelimiter=" … "'

function headline(snippets: boolean): string {
  return snippets
    ? `ts_headline('robot_brain.turn_words', c.user_message || E'\\n' || coalesce(c.robot_response, ''),
         robot_brain.turn_search_query($2), '${HEADLINE}')`
    : 'NULL::text'
}

/** One session or user: their turns by index, `@@` on each, the newest `candidates` ranked. */
function narrowSql(conditions: string, candidates: number, snippets: boolean): string {
  return `
SELECT ${TURN_COLUMNS}, c.score::float8 AS score, ${headline(snippets)} AS snippet
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT m.*, ts_rank(m.search_vector, m.q) AS score
  FROM (
    SELECT c.*, q.q FROM robot_brain.turn_search_query($2) AS q(q)
    JOIN robot_brain.conversations c ON c.search_vector @@ q.q
    WHERE c.tenant_id = ctx.tenant_id${conditions}
    ORDER BY c.created_at DESC
    LIMIT ${candidates}
  ) m
  ORDER BY score DESC, m.created_at DESC, m.id DESC
  LIMIT $3
) c
ORDER BY c.score DESC, c.created_at DESC, c.id DESC`
}

/** Any other filters: the GIN index, through robot_brain.fulltext_matches. */
function indexedSql(snippets: boolean): string {
  return `
SELECT ${TURN_COLUMNS}, c.score::float8 AS score, ${headline(snippets)} AS snippet
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT * FROM robot_brain.fulltext_matches(ctx.tenant_id, $2, $4, $5, $6, $7, $8) m
  ORDER BY m.score DESC, m.created_at DESC, m.id DESC
  LIMIT $3
) c
ORDER BY c.score DESC, c.created_at DESC, c.id DESC`
}

/**
 * Snippets (ts_headline) of texts already read: hybrid search asks the full-text arm for more rows
 * than it shows, and marks up only the ones it shows. One statement; no table is read.
 */
export async function headlines(db: Queryable, query: string, texts: string[]): Promise<string[]> {
  if (texts.length === 0) return []
  const { rows } = await db.query<{ snippet: string }>({
    text: `SELECT ts_headline('robot_brain.turn_words', t.text, robot_brain.turn_search_query($1), '${HEADLINE}') AS snippet
           FROM unnest($2::text[]) WITH ORDINALITY AS t(text, n) ORDER BY t.n`,
    values: [query, texts],
  })
  return rows.map((r) => r.snippet)
}

export interface FulltextOptions {
  /** Matches ranked at most (the newest); default SEARCH_LIMITS.fulltextCandidates. */
  candidates?: number
  /** ts_headline per row (default true); hybrid asks for the fused answer's snippets only. */
  snippets?: boolean
}

export async function fulltextSearch(
  db: Queryable,
  tenant: string,
  query: string,
  filters: SearchFilters,
  limit: number,
  options: FulltextOptions = {},
): Promise<FulltextRow[]> {
  const candidates = Math.max(limit, Math.trunc(options.candidates ?? SEARCH_LIMITS.fulltextCandidates))
  const snippets = options.snippets ?? true
  if (isSelective(filters)) {
    const where = filterConditions(filters, 4)
    const { rows } = await db.query<FulltextRow>({
      text: narrowSql(where.sql, candidates, snippets),
      values: [tenant, query, limit, ...where.values],
    })
    return rows
  }
  const { rows } = await db.query<FulltextRow>({
    text: indexedSql(snippets),
    values: [
      tenant,
      query,
      limit,
      candidates,
      filters.robotPersonality ?? null,
      filters.from?.toISOString() ?? null,
      filters.to?.toISOString() ?? null,
      filters.metadata === undefined ? null : JSON.stringify(filters.metadata),
    ],
  })
  return rows
}
