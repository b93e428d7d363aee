// The slowest statements by mean execution time, from pg_stat_statements. The extension needs its
// library preloaded (shared_preload_libraries, a server restart) and CREATE EXTENSION in this database;
// when either is missing the report says which, and how to enable it.
import type { Queryable } from '../db/pool.js'
import type { SlowQueriesReport, SlowStatement } from './types.js'

/** How many statements `status` lists. */
export const SLOW_STATEMENTS = 10

export const ENABLE_STATEMENTS =
  "add pg_stat_statements to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'), " +
  'restart PostgreSQL, then CREATE EXTENSION pg_stat_statements in this database ' +
  '(on Neon the library is preloaded: CREATE EXTENSION pg_stat_statements is enough)'

const STATE = `
SELECT n.nspname AS schema,
       (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload,
       EXISTS (SELECT FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS packaged
FROM (SELECT 1) one
LEFT JOIN pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_namespace n ON n.oid = e.extnamespace`

// Migrations and maintenance (DDL, VACUUM, REFRESH, COPY) are slow by nature: an operator acts on the
// application's statements. Only this database's statements.
const slowest = (schema: string) => `
SELECT s.queryid::text AS queryid, left(s.query, 500) AS query, s.calls::float8 AS calls,
       s.mean_exec_time AS mean_ms, s.max_exec_time AS max_ms, s.total_exec_time AS total_ms,
       s.rows::float8 AS rows
FROM ${schema}.pg_stat_statements s
WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND s.query !~* '^\\s*(create|alter|drop|vacuum|analyze|reindex|cluster|refresh|truncate|grant|revoke|comment|copy|checkpoint|lock|set|reset|begin|commit|rollback|start|end|savepoint|release|prepare|deallocate|discard|listen|notify|do)\\y'
ORDER BY s.mean_exec_time DESC
LIMIT $1`

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

export async function slowQueries(db: Queryable, limit = SLOW_STATEMENTS): Promise<SlowQueriesReport> {
  const { rows } = await db.query<{ schema: string | null; preload: string | null; packaged: boolean }>(STATE)
  const state = rows[0]
  if (!state?.schema) {
    if (!state?.packaged) {
      return {
        available: false,
        reason: `pg_stat_statements is not available on this server (it ships with PostgreSQL's contrib modules): ${ENABLE_STATEMENTS}`,
        statements: [],
      }
    }
    // shared_preload_libraries is visible to superusers and pg_read_all_settings only (null otherwise).
    const preloaded = state.preload
      ?.split(',')
      .some((l) => l.trim().replace(/"/g, '') === 'pg_stat_statements')
    const fix = preloaded
      ? 'CREATE EXTENSION pg_stat_statements (its library is preloaded)'
      : ENABLE_STATEMENTS
    return {
      available: false,
      reason: `pg_stat_statements is not installed in this database: ${fix}`,
      statements: [],
    }
  }
  try {
    const result = await db.query<{
      queryid: string
      query: string
      calls: number
      mean_ms: number
      max_ms: number
      total_ms: number
      rows: number
    }>({ text: slowest(quoteIdent(state.schema)), values: [limit] })
    const statements: SlowStatement[] = result.rows.map((r) => ({
      queryid: r.queryid,
      query: r.query,
      calls: r.calls,
      meanMs: round(r.mean_ms),
      maxMs: round(r.max_ms),
      totalMs: round(r.total_ms),
      rows: r.rows,
    }))
    return { available: true, statements }
  } catch (err) {
    // 55000: installed, but the library was not preloaded at server start.
    if ((err as { code?: string }).code === '55000') {
      return {
        available: false,
        reason: `pg_stat_statements is installed but its library is not loaded: ${ENABLE_STATEMENTS}`,
        statements: [],
      }
    }
    throw err
  }
}

const round = (ms: number) => Math.round(ms * 1000) / 1000
