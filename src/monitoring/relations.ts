// Every table and partition of the robot_brain schema: heap and index sizes, live and dead tuples, and
// when each was last vacuumed and analyzed (by hand or by autovacuum).
import type { Queryable } from '../db/pool.js'
import type { RelationReport } from './types.js'

// The size functions take a share lock on the table and its indexes: behind an exclusive lock (held or
// queued: an ALTER TABLE, a LOCK TABLE) they would wait, and monitoring must never wait. Such a
// relation's sizes are null for this report.
const RELATIONS = `
WITH locked AS (
  SELECT DISTINCT coalesce(i.indrelid, l.relation) AS oid
  FROM pg_locks l
  LEFT JOIN pg_index i ON i.indexrelid = l.relation
  WHERE l.mode = 'AccessExclusiveLock' AND l.relation IS NOT NULL
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT c.relname AS name, p.relname AS parent,
       CASE WHEN c.oid IN (SELECT oid FROM locked) THEN NULL ELSE pg_table_size(c.oid)::float8 END AS table_bytes,
       CASE WHEN c.oid IN (SELECT oid FROM locked) THEN NULL ELSE pg_indexes_size(c.oid)::float8 END AS index_bytes,
       coalesce(s.n_live_tup, 0)::float8 AS live, coalesce(s.n_dead_tup, 0)::float8 AS dead,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
LEFT JOIN pg_class p ON p.oid = i.inhparent
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname = 'robot_brain' AND c.relkind IN ('r', 'm')
ORDER BY coalesce(p.relname, c.relname), c.relname`

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString())

export async function relations(db: Queryable): Promise<RelationReport[]> {
  const { rows } = await db.query<{
    name: string
    parent: string | null
    table_bytes: number | null
    index_bytes: number | null
    live: number
    dead: number
    last_vacuum: Date | null
    last_autovacuum: Date | null
    last_analyze: Date | null
    last_autoanalyze: Date | null
  }>(RELATIONS)
  return rows.map((r) => ({
    name: r.name,
    parent: r.parent,
    tableBytes: r.table_bytes,
    indexBytes: r.index_bytes,
    liveTuples: r.live,
    deadTuples: r.dead,
    lastVacuum: iso(r.last_vacuum),
    lastAutovacuum: iso(r.last_autovacuum),
    lastAnalyze: iso(r.last_analyze),
    lastAutoanalyze: iso(r.last_autoanalyze),
  }))
}
