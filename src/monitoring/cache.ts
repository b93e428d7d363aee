// Cache hit ratio of this database: block reads served from shared buffers against those that went to
// the operating system. Counted since the statistics were last reset (or the server started).
import type { Queryable } from '../db/pool.js'

const CACHE = `
SELECT coalesce(blks_hit, 0)::float8 AS hits, coalesce(blks_read, 0)::float8 AS reads
FROM pg_stat_database WHERE datname = current_database()`

export async function cacheHits(
  db: Queryable,
): Promise<{ ratio: number | null; hits: number; reads: number }> {
  const { rows } = await db.query<{ hits: number; reads: number }>(CACHE)
  const hits = rows[0]?.hits ?? 0
  const reads = rows[0]?.reads ?? 0
  const total = hits + reads
  return { ratio: total > 0 ? Math.round((hits / total) * 10000) / 10000 : null, hits, reads }
}
