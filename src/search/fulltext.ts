// Full-text search: the GIN-indexed search_vector of each turn matched with `@@` first, and only the
// matching turns ranked (ts_rank), so a search never scores the whole table. The query takes web
// search syntax (websearch_to_tsquery: "a phrase", -word, or), in the 'english' and 'simple'
// configurations at once (migration 0005): stems for English, exact words in any script.
import type { Queryable } from '../db/pool.js'
import { TURN_COLUMNS, type TurnRow } from '../store/turns.js'
import { filterConditions, type SearchFilters } from './filters.js'

export interface FulltextRow extends TurnRow {
  score: number
  snippet: string
}

/** ts_headline options: two fragments around the matches, marked **like this** (plain text, not HTML). */
const HEADLINE = 'MaxFragments=2, MaxWords=20, MinWords=8, StartSel=**, StopSel=**, FragmentDelimiter=" … "'

function fulltextSql(conditions: string): string {
  return `
SELECT ${TURN_COLUMNS}, c.score::float8 AS score,
       ts_headline('english', c.user_message || E'\\n' || coalesce(c.robot_response, ''), c.q, '${HEADLINE}') AS snippet
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (
  SELECT c.*, q.q, ts_rank(c.search_vector, q.q) AS score
  FROM robot_brain.turn_search_query($2) AS q(q)
  JOIN robot_brain.conversations c ON c.search_vector @@ q.q
  WHERE c.tenant_id = ctx.tenant_id${conditions}
  ORDER BY score DESC, c.created_at DESC, c.id DESC
  LIMIT $3
) c
ORDER BY c.score DESC, c.created_at DESC, c.id DESC`
}

export async function fulltextSearch(
  db: Queryable,
  tenant: string,
  query: string,
  filters: SearchFilters,
  limit: number,
): Promise<FulltextRow[]> {
  const where = filterConditions(filters, 4)
  const { rows } = await db.query<FulltextRow>({
    text: fulltextSql(where.sql),
    values: [tenant, query, limit, ...where.values],
  })
  return rows
}
