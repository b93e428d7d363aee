// Runs the suites of one bench run in order and writes the report: the server targets on a
// database of their own (created, migrated, dropped unless kept), then the embedded PGlite.
// A suite that fails is recorded and the run goes on; the bench reports targets, it never fails on
// a missed one.
import { performance } from 'node:perf_hooks'
import { historyPhase, httpPhase, interactionPhase, turnPhase } from './phases.js'
import { PROFILES, type SuiteName } from './profiles.js'
import { evaluateTargets, type Report, writeReport } from './report.js'
import { gitCommit, machine } from './run-info.js'
import { RunLog } from './run-log.js'
import { benchOwnerPool, createBenchDatabase } from './server.js'
import { openServerTargets } from './server-targets.js'
import { analyticsRun, analyticsTargets } from './suite-analytics.js'
import { encryptionPhase } from './suite-encryption.js'
import { HISTORY_READERS } from './suite-history.js'
import { HTTP_CONNECTIONS } from './suite-http.js'
import { type LifecycleRow, lifecycleRun } from './suite-lifecycle.js'
import { partitionsRun, partitionTargets } from './suite-partitions.js'
import { emptySearchReport, type SearchReport, searchPhase, searchTargets } from './suite-search.js'
import { openTarget, POOL_MAX, type TargetName } from './targets.js'

export { SUITES, TARGETS } from './profiles.js'

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
  /** Search suite: measure speed on this already-loaded database at the size it holds (no load). */
  searchDb?: string
  command: string
  log: (msg: string) => void
}

/** The server targets on one bench database: turns, interactions, history, HTTP. */
async function serverRun(
  opts: BenchOptions,
  run: RunLog,
  settings: Record<string, unknown>,
): Promise<string> {
  const profile = PROFILES[opts.mode]
  const want = (s: SuiteName) => opts.suites.includes(s)
  run.log(`creating the bench database on ${new URL(opts.adminUrl).host}`)
  const db = await createBenchDatabase(opts)
  run.log(`  ${db.name}`)
  const owner = benchOwnerPool(db.ownerUrl, 4)
  let opened: Awaited<ReturnType<typeof openServerTargets>> | undefined
  try {
    const server = await owner.query<Record<string, string>>(
      `SELECT current_setting('shared_buffers') AS shared_buffers,
              current_setting('synchronous_commit') AS synchronous_commit,
              current_setting('max_connections') AS max_connections`,
    )
    Object.assign(settings, server.rows[0])
    opened = await openServerTargets(run, opts.targets, db, owner, opts.appLogin)
    const { targets } = opened
    const direct = targets.find((t) => t.name === 'pg')
    settings.groupCommit = direct?.store.config.groupCommit
    if (want('turns')) await turnPhase(run, profile, targets, owner, 'server')
    if (want('interactions') && direct) await interactionPhase(run, profile, direct, db.ownerUrl)
    // HTTP before the bulk loads: their checkpoints and autovacuum would weigh on it.
    if (want('http') && direct) await httpPhase(run, profile, direct)
    if (want('history')) await historyPhase(run, profile, targets, owner, profile.historySizes)
    if (want('encryption') && direct) await encryptionPhase(run, direct, profile.compare)
  } finally {
    await opened?.close()
    await owner.end().catch(() => {})
    if (opts.keep) run.log(`kept database ${db.name}`)
    else await db.drop().catch((err) => run.error(`dropping ${db.name}: ${(err as Error).message}`))
  }
  return db.serverVersion
}

/** e: the embedded default, on a data directory of its own. */
async function embeddedRun(opts: BenchOptions, run: RunLog): Promise<void> {
  const profile = PROFILES[opts.mode]
  const lite = await run.step('opening PGlite', () => openTarget('pglite', {}))
  if (!lite) return
  try {
    if (opts.suites.includes('turns')) await turnPhase(run, profile, [lite], lite.owner, 'pglite')
    if (opts.suites.includes('history')) {
      await historyPhase(run, profile, [lite], lite.owner, profile.pgliteHistorySizes)
    }
  } finally {
    await lite.close()
  }
}

export async function runBench(opts: BenchOptions): Promise<Report> {
  const t0 = performance.now()
  const startedAt = new Date().toISOString()
  const run = new RunLog(opts.log)
  const profile = PROFILES[opts.mode]
  const settings: Record<string, unknown> = {
    poolMax: POOL_MAX,
    ...profile.compare,
    historyReaders: HISTORY_READERS,
    httpConnections: HTTP_CONNECTIONS,
  }
  let postgres = 'not used'
  if (
    opts.targets.some((t) => t !== 'pglite') &&
    opts.suites.some((s) => s !== 'partitions' && s !== 'search' && s !== 'analytics' && s !== 'lifecycle')
  ) {
    postgres = (await run.step('server targets', () => serverRun(opts, run, settings))) ?? 'unknown'
  }
  if (opts.suites.includes('partitions') && opts.targets.includes('pg')) {
    const version = await run.step('partitions', () => partitionsRun(opts, run))
    if (postgres === 'not used' && version) postgres = version
  }
  if (opts.suites.includes('analytics') && opts.targets.includes('pg')) {
    const version = await run.step('analytics', () => analyticsRun(opts, run))
    if (postgres === 'not used' && version) postgres = version
  }
  const lifecycle: LifecycleRow[] = []
  if (opts.suites.includes('lifecycle') && opts.targets.includes('pg')) {
    const version = await run.step('lifecycle', () => lifecycleRun(opts, run, lifecycle))
    if (postgres === 'not used' && version) postgres = version
  }
  if (opts.targets.includes('pglite') && (opts.suites.includes('turns') || opts.suites.includes('history'))) {
    await run.step('PGlite', () => embeddedRun(opts, run))
  }
  let search: SearchReport | undefined
  if (opts.suites.includes('search')) {
    search = emptySearchReport()
    const report = search
    // Databases of its own on the server (with and without the search columns), after the other suites.
    const server = opts.targets.includes('pg') ? { ...opts, keep: opts.keep } : null
    const version = await run.step('search', () => searchPhase(run, opts.mode, server, report))
    if (postgres === 'not used' && version) postgres = version
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
    targets: [
      ...evaluateTargets(run.results),
      ...partitionTargets(run.results),
      ...(search ? searchTargets(search) : []),
      ...analyticsTargets(run.results),
    ],
    results: run.results,
    checks: run.checks,
    skipped: run.skipped,
    errors: run.errors,
    search,
    ...(lifecycle.length ? { lifecycle } : {}),
  }
  const files = await writeReport(opts.outDir, report)
  run.log(`wrote ${files.join(', ')}`)
  return report
}
