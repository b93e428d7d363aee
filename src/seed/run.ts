// Runs a seed plan against the owner pool: partitions for the range first, then turns and events in
// batches, two statements in flight so generating the next batch overlaps the database's work.
import type { DbPool } from '../db/pool.js'
import { analyzeTables } from '../upkeep/partitions.js'
import { eventBatches, monthsInRange, type SeedPlan, turnBatches } from './generate.js'
import { ensurePartitions, insertEventBatch, insertTurnBatch } from './write.js'

export interface SeedSummary {
  tenant: string
  seed: number
  from: string
  to: string
  personalities: readonly string[]
  partitionsCreated: number
  sessionsCreated: number
  turns: number
  events: number
  /** Rows whose id was already stored (a replay of the same seed), skipped. */
  skipped: { turns: number; events: number }
  seconds: number
  rowsPerSecond: number
}

/** Statements in flight at once: one being executed while the next batch is generated. */
const IN_FLIGHT = 2

async function pipeline<B>(batches: Iterable<B>, write: (batch: B) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>()
  let failed: unknown
  for (const batch of batches) {
    if (failed) break
    const p: Promise<void> = write(batch).then(
      () => void running.delete(p),
      (err) => {
        failed ??= err
        running.delete(p)
      },
    )
    running.add(p)
    if (running.size >= IN_FLIGHT) await Promise.race(running)
  }
  await Promise.all(running)
  if (failed) throw failed
}

export async function runSeed(
  db: DbPool,
  tenant: string,
  plan: SeedPlan,
  onProgress: (rowsDone: number) => void = () => {},
): Promise<SeedSummary> {
  const started = performance.now()
  const partitionsCreated = await ensurePartitions(db, monthsInRange(plan.from, plan.to))
  let done = 0
  let turns = 0
  let sessionsCreated = 0
  let events = 0
  await pipeline(turnBatches(plan), async (batch) => {
    const r = await insertTurnBatch(db, tenant, batch)
    turns += r.turns
    sessionsCreated += r.sessions
    done += batch.ids.length
    onProgress(done)
  })
  await pipeline(eventBatches(plan), async (batch) => {
    const inserted = await insertEventBatch(db, tenant, batch) // (not `events += await`: batches overlap)
    events += inserted
    done += batch.ids.length
    onProgress(done)
  })
  if (turns + events > 0) await analyzeTables(db)
  const seconds = (performance.now() - started) / 1000
  const totalTurns = plan.sessions * plan.turns
  return {
    tenant,
    seed: plan.seed,
    from: plan.from.toISOString(),
    to: plan.to.toISOString(),
    personalities: plan.personalities,
    partitionsCreated,
    sessionsCreated,
    turns,
    events,
    skipped: { turns: totalTurns - turns, events: plan.events - events },
    seconds: Math.round(seconds * 1000) / 1000,
    rowsPerSecond: seconds > 0 ? Math.round((turns + events) / seconds) : 0,
  }
}
