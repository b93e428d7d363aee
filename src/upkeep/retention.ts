// The retention policy: whole months older than the months kept are archived, verified, and only
// then dropped; never a bare drop. Default: keep everything.
import type { Queryable } from '../db/pool.js'
import type { TaskContext } from '../maintenance/tasks.js'
import { monthStart, PARTITIONED_TABLES, type PartitionedTable } from './partitions.js'

export interface ExpiredMonth {
  table: PartitionedTable
  /** YYYY-MM */
  month: string
  partition: string
}

/**
 * Archives one month and drops its partition (src/lifecycle/). Registered by the archive module so
 * that upkeep does not load the Parquet writer until a month actually expires.
 */
export type MonthArchiver = (ctx: TaskContext, month: ExpiredMonth, dir: string) => Promise<string>

let archiver: (() => Promise<MonthArchiver>) | null = null

export function registerArchiver(load: () => Promise<MonthArchiver>): void {
  archiver = load
}

/** Monthly partitions of `table` (attached), oldest first, as YYYY-MM and name. */
export async function monthPartitions(
  db: Queryable,
  table: PartitionedTable,
): Promise<Array<{ month: string; partition: string }>> {
  const { rows } = await db.query<{ name: string }>({
    text: `SELECT c.relname AS name
             FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = to_regclass(format('robot_brain.%I', $1::text))
            ORDER BY c.relname`,
    values: [table],
  })
  const pattern = new RegExp(`^${table}_p(\\d{4})_(\\d{2})$`)
  return rows.flatMap((r) => {
    const m = pattern.exec(r.name)
    return m ? [{ month: `${m[1]}-${m[2]}`, partition: r.name }] : []
  })
}

/** The months the policy says to archive and drop, as of `now`. */
export async function expiredMonths(
  ctx: Pick<TaskContext, 'owner' | 'now' | 'retention'>,
): Promise<ExpiredMonth[]> {
  const keep: Record<PartitionedTable, number | null> = {
    conversations: ctx.retention.conversationsMonths,
    robot_interactions: ctx.retention.interactionsMonths,
  }
  const expired: ExpiredMonth[] = []
  for (const table of PARTITIONED_TABLES) {
    const months = keep[table]
    if (months === null) continue
    const cutoff = monthStart(ctx.now, -months).slice(0, 7)
    for (const p of await monthPartitions(ctx.owner, table))
      if (p.month < cutoff) expired.push({ table, month: p.month, partition: p.partition })
  }
  return expired
}

export async function applyRetention(ctx: TaskContext): Promise<string> {
  const { conversationsMonths: c, interactionsMonths: i, archiveDir } = ctx.retention
  if (c === null && i === null) return 'no retention policy set: keeping everything'
  const expired = await ctx.retry(() => expiredMonths(ctx))
  if (expired.length === 0) return 'nothing older than the retention policy'
  const list = expired.map((e) => `${e.table} ${e.month}`).join(', ')
  if (!archiveDir)
    throw new Error(
      `expired months (${list}) are kept: retention archives before dropping, set ROBOT_BRAIN_ARCHIVE_DIR`,
    )
  if (!archiver)
    throw new Error(`expired months (${list}) are kept: archiving is not available in this build`)
  const archive = await archiver()
  const done: string[] = []
  for (const month of expired) done.push(await archive(ctx, month, archiveDir))
  return done.join('; ')
}
