// Semantic search: cosine distance between the query's vector and each turn's, by the configured
// model, through the model's HNSW index. Filters are applied while the index is walked, with
// pgvector 0.8 iterative scans (relaxed order, then re-sorted), so a filter never silently cuts the
// answer short; when the filters are selective (one session, one user) the search is exact over the
// filtered turns instead, and when the index still returns fewer than asked, the exact search runs.
// Either way a search returns min(limit, matching turns with a vector).
import { type DbPool, withTransaction } from '../db/pool.js'
import { TURN_COLUMNS, type TurnRow } from '../store/turns.js'
import { filterConditions, isSelective, type SearchFilters } from './filters.js'
import { HNSW_MAX_DIMENSIONS, modelLiteral } from './vector-index.js'

export interface SemanticRow extends TurnRow {
  score: number
}

export interface VectorQuery {
  model: string
  vector: number[]
}

/**
 * `metadataParam`: the exact search takes its candidates from robot_brain.metadata_turns (the
 * metadata GIN index, migration 0017) with the containment filter in that parameter.
 */
function semanticSql(q: VectorQuery, conditions: string, exact: boolean, metadataParam?: string): string {
  const dims = q.vector.length
  const distance = `e.embedding::vector(${dims}) <=> $2::vector(${dims})`
  const byModel = `e.model = ${modelLiteral(q.model)} AND e.dimensions = ${dims}`
  // Each filtered turn's vector is looked up by key (a LATERAL ... LIMIT 1 the planner cannot turn
  // into a join): as a join, under row-level security and generic plans, it scanned the tenant's
  // vectors, once per turn or into a hash (0.3 to 15 s at 100k turns instead of milliseconds).
  // The filtered turns: by the session's (or user's) index, or, narrowed by metadata only, each turn
  // the metadata index finds by key (as a plain condition `@>` is not leakproof: row-level security
  // kept it out of the index, and every turn of the tenant was read).
  const filtered = metadataParam
    ? `SELECT c.* FROM robot_brain.metadata_turns(ctx.tenant_id, ${metadataParam}::jsonb) k
       CROSS JOIN LATERAL (SELECT * FROM robot_brain.conversations c
         WHERE c.tenant_id = ctx.tenant_id AND c.id = k.id AND c.created_at = k.created_at${conditions}) c`
    : `SELECT * FROM robot_brain.conversations c WHERE c.tenant_id = ctx.tenant_id${conditions}`
  const inner = exact
    ? // The filtered turns first (OFFSET 0 keeps them a separate step), then their vectors by key;
      // "+ 0" keeps the planner from walking the index for an ORDER BY the filter already narrowed.
      `SELECT c.*, ${distance} AS distance
       FROM (${filtered} OFFSET 0) c
       CROSS JOIN LATERAL (SELECT e.embedding FROM robot_brain.embeddings e
         WHERE e.tenant_id = ctx.tenant_id AND e.turn_id = c.id AND ${byModel} LIMIT 1) e
       ORDER BY (${distance}) + 0, c.id
       LIMIT $3`
    : conditions === ''
      ? // No filter: the nearest vectors from the index alone, then each one's turn by key. With the
        // join inside, the planner misjudged its size (two correlated key columns: one row) and sorted
        // every vector of the tenant instead of walking the index (seconds at 100k turns); as a join
        // after it, a generic plan hashed every turn of the tenant.
        `SELECT c.*, n.distance
         FROM (SELECT e.turn_id, e.created_at, ${distance} AS distance
               FROM robot_brain.embeddings e
               WHERE ${byModel} AND e.tenant_id = ctx.tenant_id
               ORDER BY ${distance}
               LIMIT $3) n
         CROSS JOIN LATERAL (SELECT * FROM robot_brain.conversations c
           WHERE c.tenant_id = ctx.tenant_id AND c.id = n.turn_id AND c.created_at = n.created_at LIMIT 1) c`
      : `SELECT c.*, ${distance} AS distance
       FROM robot_brain.embeddings e
       JOIN robot_brain.conversations c
         ON c.tenant_id = e.tenant_id AND c.id = e.turn_id AND c.created_at = e.created_at
       WHERE ${byModel} AND e.tenant_id = ctx.tenant_id${conditions}
       ORDER BY ${distance}
       LIMIT $3`
  return `
SELECT ${TURN_COLUMNS}, (1 - c.distance)::float8 AS score
FROM robot_brain.use_tenant($1) AS ctx(tenant_id)
CROSS JOIN LATERAL (${inner}) c
ORDER BY c.distance, c.id`
}

/**
 * One transaction: the index scan settings are SET LOCAL in the same message as BEGIN (no round trip
 * of their own, nothing left on a pooled connection), then the search, then COMMIT.
 */
export async function semanticSearch(
  pool: DbPool,
  tenant: string,
  q: VectorQuery,
  filters: SearchFilters,
  limit: number,
): Promise<SemanticRow[]> {
  const where = filterConditions(filters, 4)
  const values = [tenant, `[${q.vector.join(',')}]`, limit, ...where.values]
  const selective = isSelective(filters)
  const exactValues = [...values]
  let metadataParam: string | undefined
  if (!selective && filters.metadata !== undefined) {
    exactValues.push(JSON.stringify(filters.metadata))
    metadataParam = `$${exactValues.length}`
  }
  const exactSql = semanticSql(q, where.sql, true, metadataParam)
  const exactFirst = selective || q.vector.length > HNSW_MAX_DIMENSIONS
  if (exactFirst) {
    // Exact over the filtered turns: no index setting applies, and the plan's shape does not depend
    // on the values (the session's turns by index, each one's vector by key), so the connection's
    // generic plan serves and the search is one statement, not a transaction of three. (Measured at
    // 1M turns, one session: a custom plan took 6.6 ms to plan against 6 ms to run.)
    return (await pool.query<SemanticRow>({ text: exactSql, values: exactValues })).rows
  }
  const efSearch = Math.min(1000, Math.max(100, limit * 2))
  const settings = {
    'hnsw.iterative_scan': 'relaxed_order',
    'hnsw.ef_search': efSearch,
    'hnsw.max_scan_tuples': 100000,
    // A custom plan per search: a generic one knows neither the limit nor the filters' values, and
    // chose to sort every vector of the tenant over walking the index (seconds at 100k turns).
    plan_cache_mode: 'force_custom_plan',
  }
  return withTransaction(
    pool,
    async (client) => {
      const { rows } = await client.query<SemanticRow>({
        text: semanticSql(q, where.sql, false),
        values,
      })
      if (rows.length >= limit) return rows
      return (await client.query<SemanticRow>({ text: exactSql, values: exactValues })).rows
    },
    { settings },
  )
}
