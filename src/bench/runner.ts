// Runs the suites of one bench run in order, on a database of its own, and writes the report.
// A suite that fails is recorded and the run goes on; any error makes the run exit non-zero.
// The bench reports the targets: it does not fail on a missed one.
import { execFileSync } from 'node:child_process'
import { cpus, release, totalmem, type } from 'node:os'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import type { DbPool } from '../db/pool.js'
import { bulkLoadTurns, ensureHistoryPartitions, settle } from './bulk-load.js'
import type { CompareOptions } from './load.js'
import { evaluateTargets, type Report, type ResultRow, writeReport } from './report.js'
import { type BenchDatabase, createBenchDatabase, ensureAppLogin } from './server.js'
import { HISTORY_READERS, runHistoryCase, sizeLabel } from './suite-history.js'
import { HTTP_CONNECTIONS, loadHttpDeps, runHttpSuite } from './suite-http.js'
import { loadCopyFrom, runInteractionCase } from './suite-interactions.js'
import { checkMessageCounts, runTurnCase, type TurnCase, turnCaseName } from './suite-turns.js'
import { openTarget, POOL_MAX, type Target, type TargetName } from './targets.js'

export const SUITES = ['turns', 'history', 'interactions', 'http'] as const
export type SuiteName = (typeof SUITES)[number]
export const TARGETS: readonly TargetName[] = ['pg', 'pgbouncer', 'neon', 'pglite']

interface Profile {
  compare: CompareOptions
  turnCases: TurnCase[]
  /** Turn cases for PgBouncer, the Neon driver and PGlite (suite e). */
  transportTurnCases: TurnCase[]
  historySizes: number[]
  pgliteHistorySizes: number[]
  turnsPerSession: number
  interactionBatches: number[]
}

const ALL_TURN_CASES: TurnCase[] = [1, 8, 64].flatMap((writers) =>
  (['distinct', 'hot'] as const).map((sessions) => ({ writers, sessions })),
)

export const PROFILES: Record<'quick' | 'full', Profile> = {
  // Under two minutes with setup on a 2-core machine: short rounds, small data sets.
  quick: {
    compare: { rounds: 2, durationMs: 300, warmupMs: 100 },
    turnCases: ALL_TURN_CASES,
    transportTurnCases: [
      { writers: 8, sessions: 'distinct' },
      { writers: 64, sessions: 'distinct' },
    ],
    historySizes: [10_000, 50_000],
    pgliteHistorySizes: [10_000],
    turnsPerSession: 100,
    interactionBatches: [100, 1000, 10_000],
  },
  full: {
    compare: { rounds: 4, durationMs: 3000, warmupMs: 1000 },
    turnCases: ALL_TURN_CASES,
    transportTurnCases: ALL_TURN_CASES,
    historySizes: [100_000, 1_000_000, 10_000_000],
    pgliteHistorySizes: [100_000, 1_000_000],
    turnsPerSession: 100,
    interactionBatches: [100, 1000, 10_000],
  },
}

export interface BenchOptions {
  mode: 'quick' | 'full'
  suites: SuiteName[]
  targets: TargetName[]
  /** Administrator URL of the PostgreSQL server (a superuser). */
  adminUrl: string
  /** PgBouncer host:port in transaction mode in front of that server, or null. */
  pgbouncer: string | null
  appLogin: string
  outDir: string
  keep: boolean
  command: string
  log: (msg: string) => void
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
  } catch {
    return 'unknown'
  }
}

function machine(): string {
  const c = cpus()
  return `${c[0]?.model.trim() ?? 'unknown CPU'} × ${c.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${type()} ${release()}`
}

async function startWsProxy(): Promise<{ addr: string; close(): Promise<unknown> } | string> {
  try {
    // The repository's WebSocket-to-TCP proxy (what Neon's proxy does), beside dist/ in a checkout.
    const mod = (await import(new URL('../../scripts/ws-proxy.mjs', import.meta.url).href)) as {
      startWsProxy(o: { port: number }): Promise<{ port: number; close(): Promise<unknown> }>
    }
    const proxy = await mod.startWsProxy({ port: 0 })
    return { addr: `127.0.0.1:${proxy.port}/v1`, close: () => proxy.close() }
  } catch (err) {
    return `Neon driver skipped: the local WebSocket proxy (scripts/ws-proxy.mjs) could not start: ${(err as Error).message}`
  }
}

export async function runBench(opts: BenchOptions): Promise<Report> {
  const profile = PROFILES[opts.mode]
  const t0 = performance.now()
  const startedAt = new Date().toISOString()
  const results: ResultRow[] = []
  const checks: string[] = []
  const skipped: string[] = []
  const errors: string[] = []
  const log = opts.log
  const want = (s: SuiteName) => opts.suites.includes(s)
  const serverTargets = opts.targets.filter((t) => t !== 'pglite')

  /** Runs one step; a failure is recorded and the run goes on. */
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn()
    } catch (err) {
      const msg = `${what}: ${(err as Error).message}`
      log(`ERROR ${msg}`)
      errors.push(msg)
      return undefined
    }
  }
  const record = (r: ResultRow | undefined) => {
    if (!r) return
    results.push(r)
    log(
      `  ${r.suite} ${r.target} ${r.case}: ${r.baselineName} ${Math.round(r.baseline.throughput)} ${r.unit}, ` +
        `${r.projectName} ${Math.round(r.project.throughput)} ${r.unit}, ratio ${r.ratio.toFixed(2)}×`,
    )
  }

  let db: BenchDatabase | undefined
  let ownerPool: pg.Pool | undefined
  let proxy: { addr: string; close(): Promise<unknown> } | undefined
  const targets = new Map<TargetName, Target>()
  let postgres = 'not used'
  const settings: Record<string, unknown> = {
    poolMax: POOL_MAX,
    ...profile.compare,
    historyReaders: HISTORY_READERS,
    httpConnections: HTTP_CONNECTIONS,
  }

  try {
    if (serverTargets.length > 0) {
      log(`creating the bench database on ${new URL(opts.adminUrl).host}`)
      db = await createBenchDatabase({
        adminUrl: opts.adminUrl,
        pgbouncer: opts.pgbouncer,
        appLogin: opts.appLogin,
      })
      postgres = db.serverVersion
      log(`  ${db.name}`)
      ownerPool = new pg.Pool({
        connectionString: db.ownerUrl,
        max: 4,
        application_name: 'robot-brain-bench',
      })
      ownerPool.on('error', () => {})
      const owner = ownerPool as unknown as DbPool
      const server = await owner.query<Record<string, string>>(
        `SELECT current_setting('shared_buffers') AS shared_buffers,
                current_setting('synchronous_commit') AS synchronous_commit,
                current_setting('max_connections') AS max_connections`,
      )
      Object.assign(settings, server.rows[0])

      if (!opts.targets.includes('pg')) throw new Error('the pg target is required with a server target')
      const pgTarget = await openTarget('pg', { db, owner })
      targets.set('pg', pgTarget)
      await pgTarget.store.migrate()
      settings.groupCommit = pgTarget.store.config.groupCommit

      if (opts.targets.includes('pgbouncer')) {
        if (!db.bouncerAppUrl) skipped.push('PgBouncer skipped: --pgbouncer none')
        else {
          await ensureAppLogin(db.ownerUrl, opts.appLogin, pgTarget.store.config.runtimeRole)
          await step('opening PgBouncer', async () => {
            const t = await openTarget('pgbouncer', { db, owner })
            targets.set('pgbouncer', t)
            await t.store.history('probe', { limit: 1 }) // fails now, with the reason, if PgBouncer is down
          })
        }
      }
      if (opts.targets.includes('neon')) {
        const p = await startWsProxy()
        if (typeof p === 'string') skipped.push(p)
        else {
          proxy = p
          await step('opening the Neon driver', async () => {
            const t = await openTarget('neon', { db, owner, wsProxy: p.addr })
            targets.set('neon', t)
            await t.store.history('probe', { limit: 1 })
          })
        }
      }
    }

    // a + e: turn ingest.
    if (want('turns')) {
      for (const [name, target] of targets) {
        const cases = name === 'pg' ? profile.turnCases : profile.transportTurnCases
        log(`turns on ${name}`)
        for (const c of cases)
          record(
            await step(`turns ${name} ${turnCaseName(c)}`, () => runTurnCase(target, c, profile.compare)),
          )
      }
      if (ownerPool) {
        const r = await step('message_count check', () => checkMessageCounts(ownerPool as unknown as DbPool))
        if (r) {
          checks.push(
            `message_count exact on ${r.sessions - r.wrong} of ${r.sessions} bench sessions (server)`,
          )
          if (r.wrong)
            errors.push(`${r.wrong} sessions have a message_count that differs from their stored turns`)
        }
      }
    }

    // c: interaction ingest, PostgreSQL direct.
    const pgTarget = targets.get('pg')
    if (want('interactions') && pgTarget && db) {
      const copyFrom = await loadCopyFrom()
      if (!copyFrom)
        skipped.push(
          'interactions suite skipped: pg-copy-streams is not installed (a development dependency)',
        )
      else {
        log('interactions on pg')
        const copyPool = new pg.Pool({
          connectionString: db.ownerUrl,
          max: 1,
          application_name: 'robot-brain-bench',
        })
        try {
          for (const batch of profile.interactionBatches) {
            record(
              await step(`interactions batch ${batch}`, () =>
                runInteractionCase(pgTarget, copyPool, copyFrom, batch, profile.compare),
              ),
            )
          }
        } finally {
          await copyPool.end()
        }
      }
    }

    // b + e: history at growing sizes, loaded once and read through every server target.
    if (want('history') && ownerPool && targets.size > 0) {
      const owner = ownerPool as unknown as DbPool
      await ensureHistoryPartitions(owner)
      let loaded = 0
      for (const size of profile.historySizes) {
        const ok = await step(`loading ${sizeLabel(size)} turns`, async () => {
          const t = performance.now()
          const per = profile.turnsPerSession
          await bulkLoadTurns(owner, loaded / per, size / per, per, (n) =>
            log(`  loaded ${(loaded + n).toLocaleString('en-US')} turns`),
          )
          await settle(owner)
          log(`  ${sizeLabel(size)} turns ready in ${((performance.now() - t) / 1000).toFixed(1)} s`)
          loaded = size
          return true
        })
        if (!ok) break
        for (const [name, target] of targets) {
          log(`history on ${name} at ${sizeLabel(size)}`)
          record(
            await step(`history ${name} ${sizeLabel(size)}`, () =>
              runHistoryCase(target, size, size / profile.turnsPerSession, profile.compare),
            ),
          )
        }
      }
    }

    // d: HTTP, on PostgreSQL direct.
    if (want('http') && pgTarget) {
      const deps = await loadHttpDeps()
      if (typeof deps === 'string') skipped.push(deps)
      else {
        log('http on pg')
        for (const r of (await step('http', () => runHttpSuite(pgTarget, deps, profile.compare))) ?? [])
          record(r)
      }
    }

    // e: the embedded default, on a database of its own.
    if (opts.targets.includes('pglite') && (want('turns') || want('history'))) {
      const lite = await step('opening PGlite', () => openTarget('pglite', {}))
      if (lite) {
        try {
          if (want('turns')) {
            log('turns on pglite')
            for (const c of profile.transportTurnCases) {
              record(
                await step(`turns pglite ${turnCaseName(c)}`, () => runTurnCase(lite, c, profile.compare)),
              )
            }
            const r = await step('message_count check (pglite)', () => checkMessageCounts(lite.owner))
            if (r) {
              checks.push(
                `message_count exact on ${r.sessions - r.wrong} of ${r.sessions} bench sessions (pglite)`,
              )
              if (r.wrong) errors.push(`${r.wrong} PGlite sessions have a wrong message_count`)
            }
          }
          if (want('history')) {
            await ensureHistoryPartitions(lite.owner)
            let loaded = 0
            for (const size of profile.pgliteHistorySizes) {
              const per = profile.turnsPerSession
              const ok = await step(`loading ${sizeLabel(size)} turns (pglite)`, async () => {
                await bulkLoadTurns(lite.owner, loaded / per, size / per, per)
                await settle(lite.owner)
                loaded = size
                return true
              })
              if (!ok) break
              log(`history on pglite at ${sizeLabel(size)}`)
              record(
                await step(`history pglite ${sizeLabel(size)}`, () =>
                  runHistoryCase(lite, size, size / per, profile.compare),
                ),
              )
            }
          }
        } finally {
          await lite.close()
        }
      }
    }
  } catch (err) {
    errors.push((err as Error).message)
    log(`ERROR ${(err as Error).message}`)
  } finally {
    for (const t of targets.values()) await t.close().catch(() => {})
    await proxy?.close().catch(() => {})
    await ownerPool?.end().catch(() => {})
    if (db) {
      if (opts.keep) log(`kept database ${db.name}`)
      else await db.drop().catch((err) => errors.push(`dropping ${db?.name}: ${(err as Error).message}`))
    }
  }

  const report: Report = {
    info: {
      mode: opts.mode,
      startedAt,
      durationS: (performance.now() - t0) / 1000,
      command: opts.command,
      commit: gitCommit(),
      machine: machine(),
      node: process.version,
      postgres,
      settings,
    },
    targets: evaluateTargets(results),
    results,
    checks,
    skipped,
    errors,
  }
  const files = await writeReport(opts.outDir, report)
  log(`wrote ${files.join(', ')}`)
  return report
}
