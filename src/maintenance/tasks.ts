// Named, repeatable upkeep tasks. Each runs on the owner pool (the direct URL) and is safe to run
// again at any time: run them from the app's scheduler or `robot-brain-db maintain`, not pg_cron
// (on Neon pg_cron only runs while the compute is awake).
import type { Store } from '../store/store.js'

export interface TaskResult {
  task: string
  ok: boolean
  detail: string
  ms: number
}

export interface MaintenanceTask {
  name: string
  description: string
  run(store: Store): Promise<string>
}

export const TASKS: MaintenanceTask[] = [
  {
    name: 'partitions',
    description:
      'create monthly partitions for this month and the next three (moving early rows out of the default partition)',
    async run(store) {
      const { rows } = await store.transport.owner.query<{ created: number }>(
        'SELECT robot_brain.ensure_partitions(3) AS created',
      )
      return `${rows[0]?.created ?? 0} partition(s) created`
    },
  },
  {
    name: 'stats',
    description: 'refresh the session_stats materialized view concurrently (readers are not blocked)',
    async run(store) {
      await store.refreshSessionStats()
      return 'session_stats refreshed'
    },
  },
  {
    name: 'analyze',
    description:
      'update planner statistics of the partitioned tables (autovacuum does not analyze partitioned parents)',
    async run(store) {
      await store.transport.owner.query(
        'ANALYZE robot_brain.sessions, robot_brain.conversations, robot_brain.robot_interactions',
      )
      return 'analyzed'
    },
  },
]

/** Runs the named tasks (all when none named), in order; a failing task does not stop the others. */
export async function runMaintenance(store: Store, names: string[] = []): Promise<TaskResult[]> {
  const unknown = names.filter((n) => !TASKS.some((t) => t.name === n))
  if (unknown.length)
    throw new Error(
      `unknown maintenance task(s): ${unknown.join(', ')}; known: ${TASKS.map((t) => t.name).join(', ')}`,
    )
  const selected = names.length ? TASKS.filter((t) => names.includes(t.name)) : TASKS
  const results: TaskResult[] = []
  for (const task of selected) {
    const started = performance.now()
    try {
      const detail = await task.run(store)
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
