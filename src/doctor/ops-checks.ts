// Checks an operator should act on: the cache hit ratio, next month's partitions, rows in a default
// partition, slow statements, and (plain PostgreSQL) WAL archiving and base backups. Each reads the
// statistics views or the catalog once, on the owner's direct connection.
import type { Config } from '../config.js'
import type { Queryable } from '../db/pool.js'
import { cacheHits } from '../monitoring/cache.js'
import { slowQueries } from '../monitoring/statements.js'
import { type Check, ok, skip, warn } from './check.js'
import { PARTITIONED, parseBound } from './status.js'

/** Under this share of block reads from shared buffers, the working set does not fit in memory. */
export const MIN_CACHE_HIT_RATIO = 0.99
/** Fewer block accesses than this since the statistics were reset say nothing about the cache. */
export const MIN_CACHE_SAMPLE = 10_000
/** A statement slower than this on average deserves a look. */
export const SLOW_MEAN_MS = 100

export async function cacheHitCheck(db: Queryable): Promise<Check> {
  const id = 'cache-hit-ratio'
  const { ratio, hits, reads } = await cacheHits(db)
  const pct = ratio === null ? 'n/a' : `${(ratio * 100).toFixed(2)}%`
  if (ratio === null || hits + reads < MIN_CACHE_SAMPLE) {
    return ok(id, `${pct} over ${hits + reads} block reads: too few to judge yet`)
  }
  if (ratio < MIN_CACHE_HIT_RATIO) {
    return warn(
      id,
      `${pct} of block reads came from shared buffers (${reads} went to disk): the working set does not fit in memory`,
      'raise shared_buffers (on Neon: a larger minimum compute size), or look for sequential scans of big tables (slow queries in robot-brain-db status)',
    )
  }
  return ok(id, `${pct} of ${hits + reads} block reads from shared buffers`)
}

const PARTITION_BOUNDS = `
SELECT parent.relname AS parent, child.relname AS name, pg_get_expr(child.relpartbound, child.oid) AS bound
FROM pg_inherits i
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = 'robot_brain' AND parent.relname = ANY ($1::text[])
ORDER BY 1, 2`

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Next month's partition of each partitioned table exists; no default partition holds rows. */
export async function partitionChecks(db: Queryable, now = new Date()): Promise<Check[]> {
  const { rows } = await db.query<{ parent: string; name: string; bound: string }>({
    text: PARTITION_BOUNDS,
    values: [PARTITIONED],
  })
  if (rows.length === 0) return [skip('partitions', 'no partitioned tables yet (run robot-brain-db migrate)')]
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1))
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1))
  const month = start.toISOString().slice(0, 7)
  const out: Check[] = []
  for (const table of PARTITIONED) {
    const parts = rows.filter((r) => r.parent === table)
    const covered = parts.some((p) => {
      const { from, to } = parseBound(p.bound)
      return (
        from !== null && to !== null && Date.parse(from) <= start.getTime() && Date.parse(to) >= end.getTime()
      )
    })
    out.push(
      covered
        ? ok(`partition ${table} ${month}`, 'next month has its partition')
        : warn(
            `partition ${table} ${month}`,
            `no partition of ${table} covers next month (${month}): its rows would land in the default partition`,
            'robot-brain-db maintain partitions',
          ),
    )
    for (const p of parts.filter((r) => r.bound === 'DEFAULT')) {
      // The name comes from the catalog, quoted; at most a thousand rows are looked at.
      const { rows: held } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM robot_brain.${quoteIdent(p.name)} LIMIT 1000) s`,
      )
      const n = held[0]?.n ?? 0
      out.push(
        n === 0
          ? ok(`default partition ${p.name}`, 'empty')
          : warn(
              `default partition ${p.name}`,
              `holds ${n >= 1000 ? 'at least 1000' : n} row(s): rows outside every monthly partition, which slow scans and block creating the partition their month needs`,
              `create the missing months (robot-brain-db maintain partitions), then move the rows: detach ${p.name}, create the partitions, INSERT the rows back through ${table}, drop the detached table`,
            ),
      )
    }
  }
  return out
}

export async function slowStatementCheck(db: Queryable, embedded: boolean): Promise<Check> {
  const id = 'slow-statements'
  if (embedded) return skip(id, 'pg_stat_statements is not available in the embedded database')
  const report = await slowQueries(db, 5)
  if (!report.available) return warn(id, 'statement statistics unavailable', report.reason ?? '')
  const slow = report.statements.filter((s) => s.meanMs > SLOW_MEAN_MS)
  if (slow.length === 0) {
    const top = report.statements[0]
    return ok(
      id,
      top ? `slowest mean ${top.meanMs.toFixed(1)} ms (under ${SLOW_MEAN_MS} ms)` : 'none recorded yet',
    )
  }
  const list = slow
    .slice(0, 3)
    .map((s) => `${s.meanMs.toFixed(0)} ms × ${s.calls}: ${s.query.replace(/\s+/g, ' ').slice(0, 80)}`)
    .join('; ')
  return warn(
    id,
    `${slow.length} statement(s) average over ${SLOW_MEAN_MS} ms: ${list}`,
    'EXPLAIN (ANALYZE, BUFFERS) the statement with typical values; a missing index or stale statistics (robot-brain-db maintain analyze) are the usual causes',
  )
}

export const ARCHIVE_FIX =
  "use pgBackRest (apt-get install pgbackrest): configure a stanza and repository in /etc/pgbackrest/pgbackrest.conf, set archive_mode = on and archive_command = 'pgbackrest --stanza=main archive-push %p', restart PostgreSQL, then run pgbackrest --stanza=main stanza-create and pgbackrest --stanza=main check"
export const BACKUP_FIX =
  'pgbackrest --stanza=main --type=full backup (then schedule full backups weekly and --type=diff daily); pgbackrest info lists the backups'

const ARCHIVING = `
SELECT current_setting('archive_mode') AS mode,
       (SELECT setting FROM pg_settings WHERE name = 'archive_command') AS command,
       (SELECT setting FROM pg_settings WHERE name = 'archive_library') AS library,
       a.archived_count::int AS archived, a.last_archived_wal AS last_wal, a.last_archived_time AS last_time,
       a.failed_count::int AS failed, a.last_failed_time AS last_failed
FROM pg_stat_archiver a`

const NEON_SERVER = "SELECT EXISTS (SELECT FROM pg_settings WHERE name LIKE 'neon.%') AS neon"

/**
 * WAL archiving and base backups, which point-in-time recovery needs. Neon keeps both itself; the
 * embedded database has neither (copy its directory). Plain PostgreSQL: archive_mode and
 * archive_command, the archiver's last success and failure, and the newest backup history file
 * (`*.backup` in pg_wal, which a base backup leaves while archiving is on).
 */
export async function backupChecks(db: Queryable, config: Config): Promise<Check[]> {
  if (config.driver === 'pglite') {
    return [
      skip(
        'backups',
        'embedded database: back it up by copying its data directory while no process has it open (robot-brain-db branch create NAME does this safely)',
      ),
    ]
  }
  const neon = (await db.query<{ neon: boolean }>(NEON_SERVER)).rows[0]?.neon
  if (neon) {
    return [
      ok(
        'backups',
        "Neon keeps the WAL and restores to any point in the project's history window: robot-brain-db branch create NAME --at TIMESTAMP",
      ),
    ]
  }
  const a = (
    await db.query<{
      mode: string
      command: string | null
      library: string | null
      archived: number
      last_wal: string | null
      last_time: Date | null
      failed: number
      last_failed: Date | null
    }>(ARCHIVING)
  ).rows[0]
  const out: Check[] = []
  if (!a || a.mode === 'off') {
    out.push(
      warn(
        'wal-archiving',
        'archive_mode is off: no WAL is kept beyond a backup, so the database can only be restored to the moment of a backup, not to a point in time',
        ARCHIVE_FIX,
      ),
    )
  } else if (a.command === null && a.library === null) {
    out.push(
      skip(
        'wal-archiving',
        `archive_mode is ${a.mode}; archive_command needs pg_read_all_settings to be seen`,
      ),
    )
  } else if (!a.command && !a.library) {
    out.push(
      warn(
        'wal-archiving',
        `archive_mode is ${a.mode} but archive_command is empty: WAL piles up in pg_wal`,
        ARCHIVE_FIX,
      ),
    )
  } else {
    const how = a.library ? `archive_library ${a.library}` : `archive_command ${a.command}`
    const tool = /pgbackrest/i.test(`${a.command} ${a.library}`) ? 'pgBackRest' : 'a command of your own'
    const failing = a.last_failed && (!a.last_time || a.last_failed > a.last_time)
    if (failing) {
      out.push(
        warn(
          'wal-archiving',
          `${how} (${tool}) is failing: ${a.failed} failure(s), the last at ${new Date(a.last_failed as Date).toISOString()}, after the last success`,
          "see the PostgreSQL log for the archive command's error; pgbackrest --stanza=main check tests the setup",
        ),
      )
    } else {
      const last = a.last_time
        ? `, last ${a.last_wal} at ${new Date(a.last_time).toISOString()}`
        : ', nothing archived yet'
      out.push(
        ok(
          'wal-archiving',
          `archive_mode ${a.mode}, ${how} (${tool}): ${a.archived} segment(s) archived${last}`,
        ),
      )
    }
  }
  out.push(await baseBackupCheck(db, a?.mode !== undefined && a.mode !== 'off'))
  return out
}

async function baseBackupCheck(db: Queryable, archiving: boolean): Promise<Check> {
  const id = 'base-backup'
  let latest: { name: string; modification: Date } | undefined
  try {
    const { rows } = await db.query<{ name: string; modification: Date }>(
      "SELECT name, modification FROM pg_ls_waldir() WHERE name LIKE '%.backup' ORDER BY modification DESC LIMIT 1",
    )
    latest = rows[0]
  } catch (err) {
    if ((err as { code?: string }).code === '42501') {
      return skip(
        id,
        'pg_wal cannot be listed by this role (needs pg_monitor): pgbackrest info lists the backups',
      )
    }
    throw err
  }
  if (latest) {
    return ok(id, `latest base backup ${new Date(latest.modification).toISOString()} (${latest.name})`)
  }
  return warn(
    id,
    archiving
      ? 'no base backup found (no backup history file in pg_wal): archived WAL alone cannot restore anything'
      : 'no base backup can be seen (without WAL archiving a backup leaves no trace here)',
    BACKUP_FIX,
  )
}

/** Every check of this file, in display order. */
export async function operationsChecks(db: Queryable, config: Config): Promise<Check[]> {
  const embedded = config.driver === 'pglite'
  return [
    await cacheHitCheck(db),
    ...(await partitionChecks(db)),
    await slowStatementCheck(db, embedded),
    ...(await backupChecks(db, config)),
  ]
}
