// The retention policy: whole months older than the months kept are archived, verified, and only
// then dropped (src/lifecycle/archive.ts); never a bare drop. Default: keep everything.
import type { TaskContext } from '../maintenance/tasks.js'
import { monthStart, PARTITIONED_TABLES, type PartitionedTable } from './partitions.js'

/** The first month (YYYY-MM) each table keeps as of `now`; null: keeps everything. */
export function retentionCutoffs(
  ctx: Pick<TaskContext, 'now' | 'retention'>,
): Record<PartitionedTable, string | null> {
  const cut = (months: number | null) => (months === null ? null : monthStart(ctx.now, -months).slice(0, 7))
  return {
    conversations: cut(ctx.retention.conversationsMonths),
    robot_interactions: cut(ctx.retention.interactionsMonths),
  }
}

export async function applyRetention(ctx: TaskContext): Promise<string> {
  const cutoffs = retentionCutoffs(ctx)
  if (PARTITIONED_TABLES.every((t) => cutoffs[t] === null))
    return 'no retention policy set: keeping everything'
  // Loaded only when a policy is set: serve does not load the Parquet writer otherwise.
  const { archiveMonth, monthsBefore, partitionDefaultMonths } = await import('../lifecycle/archive.js')
  const expired = []
  for (const table of PARTITIONED_TABLES) {
    const cutoff = cutoffs[table]
    if (cutoff === null) continue
    // Expired rows in the default partition get their month's partition first, then go the same way.
    if (ctx.retention.archiveDir) await ctx.retry(() => partitionDefaultMonths(ctx.owner, table, cutoff))
    expired.push(...(await ctx.retry(() => monthsBefore(ctx.owner, table, cutoff))))
  }
  if (expired.length === 0) return 'nothing older than the retention policy'
  const dir = ctx.retention.archiveDir
  if (!dir)
    throw new Error(
      `expired months (${expired.map((e) => `${e.table} ${e.month}`).join(', ')}) are kept: ` +
        'retention archives before it drops, set ROBOT_BRAIN_ARCHIVE_DIR',
    )
  const done: string[] = []
  for (const month of expired) {
    const r = await archiveMonth(ctx.owner, month, dir)
    done.push(`${r.table} ${r.month}: ${r.rows} rows ${r.outcome} to ${r.dir}`)
  }
  return done.join('; ')
}
