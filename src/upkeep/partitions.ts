// Monthly partitions for the month of `now` and the months after it, for both partitioned tables.
// `now` comes from the caller's clock (not the database's), so a test can move it forward. Each
// missing partition is made in its own short transaction, under a transaction-scoped advisory lock
// (works through a pooler): two processes never race on the same CREATE, and writes to other months
// wait at most for one partition's creation.
import { type DbPool, withTransaction } from '../db/pool.js'
import { quoteIdent } from '../db/runtime-role.js'
import { SQLSTATE } from '../db/sqlstate.js'

export const PARTITIONED_TABLES = ['conversations', 'robot_interactions'] as const
export type PartitionedTable = (typeof PARTITIONED_TABLES)[number]

/** Advisory lock key of partition creation: the bytes of 'rbdbpart' as a bigint. */
const PARTITIONS_LOCK_KEY = '7161966484788289908'

/** The first day of the UTC month `offset` months after the month of `at`, as YYYY-MM-DD. */
export function monthStart(at: Date, offset = 0): string {
  const d = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1))
  return d.toISOString().slice(0, 10)
}

/** The partition's name for a table and a month (YYYY-MM-DD or YYYY-MM). */
export function partitionName(table: PartitionedTable, month: string): string {
  return `${table}_p${month.slice(0, 4)}_${month.slice(5, 7)}`
}

/** Creates what is missing; returns the names created. */
export async function ensurePartitions(owner: DbPool, now: Date, monthsAhead = 3): Promise<string[]> {
  const wanted: Array<{ table: PartitionedTable; month: string; name: string }> = []
  for (let i = 0; i <= monthsAhead; i++) {
    const month = monthStart(now, i)
    for (const table of PARTITIONED_TABLES) wanted.push({ table, month, name: partitionName(table, month) })
  }
  // One round trip in the usual case, where every partition exists.
  const { rows } = await owner.query<{ name: string }>({
    text: `SELECT n AS name FROM unnest($1::text[]) AS n
            WHERE to_regclass(format('robot_brain.%I', n)) IS NULL`,
    values: [wanted.map((w) => w.name)],
  })
  const missing = new Set(rows.map((r) => r.name))
  const created: string[] = []
  for (const w of wanted) {
    if (!missing.has(w.name)) continue
    const made = await withTransaction(owner, async (c) => {
      await c.query({ text: 'SELECT pg_advisory_xact_lock($1::bigint)', values: [PARTITIONS_LOCK_KEY] })
      const { rows: r } = await c.query<{ made: boolean }>({
        text: 'SELECT robot_brain.ensure_month_partition($1, $2::date) AS made',
        values: [w.table, w.month],
      })
      return r[0]?.made === true
    })
    if (made) created.push(w.name)
  }
  return created
}

/**
 * Makes sure the given months (YYYY-MM) have their partition in `table`, e.g. before old rows are
 * imported or restored, so they land in their month and not in the default partition.
 */
export async function ensureMonths(owner: DbPool, table: PartitionedTable, months: string[]): Promise<void> {
  for (const month of months) {
    await withTransaction(owner, async (c) => {
      await c.query({ text: 'SELECT pg_advisory_xact_lock($1::bigint)', values: [PARTITIONS_LOCK_KEY] })
      await c.query({
        text: 'SELECT robot_brain.ensure_month_partition($1, $2::date)',
        values: [table, `${month}-01`],
      })
    })
  }
}

/**
 * Forgets the planner statistics of empty partitions; returns the names reset.
 *
 * Why: an ANALYZE of a partitioned parent (the `analyze` task, a seed, or an operator's VACUUM
 * ANALYZE) also records the months made ahead as analyzed and empty. The application pool plans its
 * named statements generically, and a generic plan made then reads such a partition by a sequential
 * scan (the cheapest way through an empty table). The plan is kept when the month starts and rows
 * arrive, until the partition is analyzed again: the replay check of events read the whole new month
 * once per event (before migration 0023), and ingest of 1,000-event batches fell from about 35,000
 * events/s to under 1,500, then hit the statement timeout (measured on the first day of a month). A
 * partition never analyzed is planned as at least 10 pages, which its indexes beat. TRUNCATE is the
 * one way back to "never analyzed" (reltuples -1). It runs only on a partition found empty while
 * locked, under a short lock timeout: a partition in use now is left for the next run, and writes to
 * it wait at most that long. On a replica the truncation takes the same lock briefly.
 */
export async function forgetEmptyPartitionStats(owner: DbPool): Promise<string[]> {
  const { rows } = await owner.query<{ name: string }>({
    text: `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = ANY ($1::regclass[]) AND c.reltuples = 0 AND c.relpages = 0
           ORDER BY 1`,
    values: [PARTITIONED_TABLES.map((t) => `robot_brain.${t}`)],
  })
  const reset: string[] = []
  for (const { name } of rows) {
    const table = `robot_brain.${quoteIdent(name)}`
    try {
      const emptied = await withTransaction(owner, async (c) => {
        await c.query("SET LOCAL lock_timeout = '100ms'")
        await c.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`)
        const { rows: r } = await c.query<{ empty: boolean }>(
          `SELECT NOT EXISTS (SELECT FROM ${table}) AS empty`,
        )
        if (r[0]?.empty !== true) return false
        await c.query(`TRUNCATE ${table}`)
        return true
      })
      if (emptied) reset.push(name)
    } catch (err) {
      if ((err as { code?: string }).code !== SQLSTATE.LOCK_NOT_AVAILABLE) throw err
    }
  }
  return reset
}

/**
 * Fresh planner statistics of the tables that grow: query plans and the row estimates `status` shows
 * depend on them, autovacuum never analyzes a partitioned parent, and after a bulk load it would get
 * to the partitions later. A parent recurses into its partitions; the empty ones are then made
 * unanalyzed again (above). Returns the partitions reset. The `analyze` task and `seed` end with it.
 */
export async function analyzeTables(owner: DbPool): Promise<string[]> {
  await owner.query('ANALYZE robot_brain.sessions, robot_brain.conversations, robot_brain.robot_interactions')
  return forgetEmptyPartitionStats(owner)
}
