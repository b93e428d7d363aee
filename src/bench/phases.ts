// The phases of a run, each over the targets it applies to. Shared by the server targets (pg,
// PgBouncer, Neon driver: one database) and the embedded PGlite (a database of its own).
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import type { DbPool } from '../db/pool.js'
import { bulkLoadTurns, ensureHistoryPartitions, settle } from './bulk-load.js'
import type { Profile } from './profiles.js'
import type { RunLog } from './run-log.js'
import { runHistoryCase, sizeLabel } from './suite-history.js'
import { loadHttpDeps, runHttpSuite } from './suite-http.js'
import { loadCopyFrom, runInteractionCase } from './suite-interactions.js'
import { checkMessageCounts, runTurnCase, turnCaseName } from './suite-turns.js'
import type { Target } from './targets.js'

/** a + e: turn ingest on each target, then the message_count check on their database. */
export async function turnPhase(
  run: RunLog,
  profile: Profile,
  targets: Target[],
  owner: DbPool,
  where: string,
) {
  for (const target of targets) {
    const cases = target.name === 'pg' ? profile.turnCases : profile.transportTurnCases
    run.log(`turns on ${target.name}`)
    for (const c of cases) {
      run.record(
        await run.step(`turns ${target.name} ${turnCaseName(c)}`, () =>
          runTurnCase(target, c, profile.compare),
        ),
      )
    }
  }
  run.countCheck(where, await run.step(`message_count check (${where})`, () => checkMessageCounts(owner)))
}

/** b + e: history at growing sizes, each size loaded once and read through every target. */
export async function historyPhase(
  run: RunLog,
  profile: Profile,
  targets: Target[],
  owner: DbPool,
  sizes: number[],
): Promise<void> {
  const per = profile.turnsPerSession
  await ensureHistoryPartitions(owner)
  let loaded = 0
  for (const size of sizes) {
    const ok = await run.step(`loading ${sizeLabel(size)} turns`, async () => {
      const t = performance.now()
      await bulkLoadTurns(owner, loaded / per, size / per, per, (n) =>
        run.log(`  loaded ${(loaded + n).toLocaleString('en-US')} turns`),
      )
      await settle(owner)
      run.log(`  ${sizeLabel(size)} turns ready in ${((performance.now() - t) / 1000).toFixed(1)} s`)
      loaded = size
      return true
    })
    if (!ok) return
    for (const target of targets) {
      run.log(`history on ${target.name} at ${sizeLabel(size)}`)
      run.record(
        await run.step(`history ${target.name} ${sizeLabel(size)}`, () =>
          runHistoryCase(target, size, size / per, profile.compare),
        ),
      )
    }
  }
}

/** c: interaction ingest against COPY, PostgreSQL direct. */
export async function interactionPhase(run: RunLog, profile: Profile, target: Target, ownerUrl: string) {
  const copyFrom = await loadCopyFrom()
  if (!copyFrom) {
    run.skipped.push(
      'interactions suite skipped: pg-copy-streams is not installed (a development dependency)',
    )
    return
  }
  run.log(`interactions on ${target.name}`)
  const copyPool = new pg.Pool({ connectionString: ownerUrl, max: 1, application_name: 'robot-brain-bench' })
  try {
    for (const batch of profile.interactionBatches) {
      run.record(
        await run.step(`interactions batch ${batch}`, () =>
          runInteractionCase(target, copyPool, copyFrom, batch, profile.compare),
        ),
      )
    }
  } finally {
    await copyPool.end()
  }
}

/** d: HTTP against in-process calls. */
export async function httpPhase(run: RunLog, profile: Profile, target: Target): Promise<void> {
  const deps = await loadHttpDeps()
  if (typeof deps === 'string') {
    run.skipped.push(deps)
    return
  }
  run.log(`http on ${target.name}`)
  for (const r of (await run.step('http', () => runHttpSuite(target, deps, profile.compare))) ?? [])
    run.record(r)
}
