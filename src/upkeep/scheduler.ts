// Scheduled upkeep inside `serve`: partitions, the session_stats refresh, retention, planner
// statistics. Neon-aware: there is no timer. A run starts only from poke(), which the server calls
// when it answers an API request, so upkeep never wakes a suspended compute by itself; and at most
// once per interval across every process of the database, one process at a time (lease.ts).

import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import type { DbPool } from '../db/pool.js'
import { runTasks, type TaskResult } from '../maintenance/tasks.js'
import { acquireLease, leaseState, releaseLease, renewLease } from './lease.js'
import { UPKEEP_DEFAULTS, type UpkeepOptions } from './options.js'

export const UPKEEP_JOB = 'upkeep'

/** How long a process waits before asking the database again after finding the job not due. */
const MIN_RECHECK_MS = 60_000

export interface UpkeepLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
}

export interface UpkeepConfig {
  owner: DbPool
  options?: Partial<UpkeepOptions>
  /** The clock (default: the system's). Tests move it forward. */
  now?: () => Date
  /** Retries connection failures (default: none). */
  retry?: <T>(fn: () => Promise<T>) => Promise<T>
  /** This process, as shown in the lease row. */
  holder?: string
  log?: UpkeepLog
  /** Tasks to run (default: all). */
  tasks?: string[]
}

export interface UpkeepRun {
  startedAt: string
  finishedAt: string
  results: TaskResult[]
}

export class Upkeep {
  readonly options: UpkeepOptions
  readonly holder: string
  private readonly now: () => Date
  private nextCheck = 0
  private running: Promise<UpkeepRun | null> | null = null
  private stopped = false
  /** The last run of this process (null: none yet). */
  lastRun: UpkeepRun | null = null

  constructor(private readonly config: UpkeepConfig) {
    this.options = { ...UPKEEP_DEFAULTS, ...config.options }
    this.now = config.now ?? (() => new Date())
    this.holder = config.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  }

  /**
   * Traffic arrived: starts a run in the background when one may be due. Cheap when not due (a clock
   * comparison); never throws, never waits.
   */
  poke(): void {
    if (this.stopped || this.running || this.options.intervalMs <= 0) return
    if (this.now().getTime() < this.nextCheck) return
    this.running = this.runIfDue()
      .catch((err) => {
        this.config.log?.warn({ err }, 'upkeep failed; will retry later')
        this.nextCheck = this.now().getTime() + MIN_RECHECK_MS
        return null
      })
      .finally(() => {
        this.running = null
      })
  }

  /** The run in progress (poke's), if any. */
  idle(): Promise<UpkeepRun | null> {
    return this.running ?? Promise.resolve(null)
  }

  /** Runs now when this process can take the lease and the job is due; null when not. */
  async runIfDue(): Promise<UpkeepRun | null> {
    const { owner } = this.config
    const retry = this.config.retry ?? ((fn) => fn())
    const { leaseMs, intervalMs } = this.options
    const started = this.now()
    const taken = await retry(() =>
      acquireLease(owner, UPKEEP_JOB, this.holder, started, leaseMs, intervalMs),
    )
    if (!taken) {
      // Not due, or another process is at it: ask again when it may be due.
      const state = await retry(() => leaseState(owner, UPKEEP_JOB))
      const due = Math.max(
        (state?.lastFinishedAt?.getTime() ?? 0) + intervalMs,
        state?.expiresAt?.getTime() ?? 0,
        started.getTime() + MIN_RECHECK_MS,
      )
      this.nextCheck = due
      return null
    }
    let results: TaskResult[] = []
    try {
      results = await runTasks(
        { owner, now: started, retention: this.options.retention, retry },
        this.config.tasks ?? [],
        // Between tasks: stop when shutting down, and keep the lease (or stop, if it was lost).
        async () =>
          !this.stopped &&
          (await retry(() => renewLease(owner, UPKEEP_JOB, this.holder, this.now(), leaseMs))),
      )
    } finally {
      const finished = this.now()
      await retry(() => releaseLease(owner, UPKEEP_JOB, this.holder, finished, results)).catch(() => {})
      this.nextCheck = finished.getTime() + intervalMs
      this.lastRun = { startedAt: started.toISOString(), finishedAt: finished.toISOString(), results }
    }
    const failed = results.filter((r) => !r.ok)
    if (failed.length) this.config.log?.warn({ results }, 'upkeep finished with failed tasks')
    else this.config.log?.info({ results }, 'upkeep finished')
    return this.lastRun
  }

  /** No new run; waits for the one in progress (which stops after its current task). */
  async stop(): Promise<void> {
    this.stopped = true
    await this.idle()
  }
}
