// Named, repeatable upkeep tasks. Each runs on the owner pool (the direct URL) and is safe to run
// again at any time, or from two processes at once: `serve` runs them on its schedule (src/upkeep/),
// `robot-brain-db maintain` by hand. Not pg_cron: on Neon it only runs while the compute is awake.

import { upkeepOptionsFromEnv } from '../config.js'
import type { DbPool } from '../db/pool.js'
import { withRetry } from '../db/retry.js'
import type { Store } from '../store/store.js'
import type { RetentionPolicy } from '../upkeep/options.js'
import { analyzeTables, ensurePartitions, forgetEmptyPartitionStats } from '../upkeep/partitions.js'
import { applyRetention } from '../upkeep/retention.js'
import { refreshSessionStatsIfChanged } from '../upkeep/stats-refresh.js'

export interface TaskResult {
  task: string
  ok: boolean
  detail: string
  ms: number
}

export interface TaskContext {
  /** The owner pool (direct URL). */
  owner: DbPool
  /** The clock's reading for this run (injectable: tests move it forward). */
  now: Date
  retention: RetentionPolicy
  /** Run even what would be skipped (a session_stats refresh with no new turns). */
  force?: boolean
  /** Retries connection failures (the store's retry budget). */
  retry<T>(fn: () => Promise<T>): Promise<T>
}

export interface MaintenanceTask {
  name: string
  description: string
  run(ctx: TaskContext): Promise<string>
}

/** Months of partitions kept ahead of the current one. */
export const MONTHS_AHEAD = 3

export const TASKS: MaintenanceTask[] = [
  {
    name: 'partitions',
    description:
      'create monthly partitions for this month and the next three (moving early rows out of the default partition); make empty partitions unanalyzed again',
    async run(ctx) {
      const created = await ctx.retry(() => ensurePartitions(ctx.owner, ctx.now, MONTHS_AHEAD))
      // Also after an ANALYZE run by hand, before the next month starts (see forgetEmptyPartitionStats).
      const reset = await ctx.retry(() => forgetEmptyPartitionStats(ctx.owner))
      return `${created.length} partition(s) created${created.length ? `: ${created.join(', ')}` : ''}${resetNote(reset)}`
    },
  },
  {
    name: 'stats',
    description:
      'refresh the session_stats materialized view concurrently, when turns changed since the last refresh (--force: always)',
    async run(ctx) {
      const r = await ctx.retry(() => refreshSessionStatsIfChanged(ctx.owner, { force: ctx.force }))
      return r.refreshed
        ? `session_stats refreshed at ${r.refreshedAt}`
        : `skipped: no turns changed since the refresh at ${r.refreshedAt ?? 'an unknown time'}`
    },
  },
  {
    name: 'retention',
    description:
      'archive, then drop, whole months older than the retention policy (ROBOT_BRAIN_RETENTION_*; default: keep everything)',
    async run(ctx) {
      return applyRetention(ctx)
    },
  },
  {
    name: 'analyze',
    description:
      'update planner statistics of the partitioned tables (autovacuum does not analyze partitioned parents); empty partitions stay unanalyzed',
    async run(ctx) {
      const reset = await ctx.retry(() => analyzeTables(ctx.owner))
      return `analyzed${resetNote(reset)}`
    },
  },
]

const resetNote = (reset: string[]) =>
  reset.length ? `; statistics of ${reset.length} empty partition(s) forgotten: ${reset.join(', ')}` : ''

export function checkTaskNames(names: string[]): void {
  const unknown = names.filter((n) => !TASKS.some((t) => t.name === n))
  if (unknown.length)
    throw new Error(
      `unknown maintenance task(s): ${unknown.join(', ')}; known: ${TASKS.map((t) => t.name).join(', ')}`,
    )
}

/**
 * Runs the named tasks (all when none named), in order; a failing task does not stop the others.
 * `beforeEach` may stop the run (returns false), e.g. when upkeep's lease was lost.
 */
export async function runTasks(
  ctx: TaskContext,
  names: string[] = [],
  beforeEach?: (task: string) => Promise<boolean>,
): Promise<TaskResult[]> {
  checkTaskNames(names)
  const selected = names.length ? TASKS.filter((t) => names.includes(t.name)) : TASKS
  const results: TaskResult[] = []
  for (const task of selected) {
    if (beforeEach && !(await beforeEach(task.name))) break
    const started = performance.now()
    try {
      const detail = await task.run(ctx)
      results.push({ task: task.name, ok: true, detail, ms: Math.round(performance.now() - started) })
    } catch (err) {
      results.push({
        task: task.name,
        ok: false,
        detail: (err as Error).message,
        ms: Math.round(performance.now() - started),
      })
    }
  }
  return results
}

/** Runs the named tasks (all when none named) on a store's owner pool, now, with the environment's policy. */
export function runMaintenance(
  store: Store,
  names: string[] = [],
  options: { force?: boolean; now?: Date; retention?: RetentionPolicy } = {},
): Promise<TaskResult[]> {
  return runTasks(
    {
      owner: store.transport.owner,
      now: options.now ?? new Date(),
      retention: options.retention ?? upkeepOptionsFromEnv().retention,
      force: options.force,
      retry: (fn) => withRetry(fn, store.config.retry),
    },
    names,
  )
}
