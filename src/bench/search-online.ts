// The online-migration bound, measured: a loaded database upgraded while writers write. The
// migration files are applied first (catalog changes only), then writers record turns (the store's
// own recordTurn, closed loop, each on a session of its own) from before the online steps start
// until after they end; every write's latency is kept, every failure counted. The bound: no
// write fails, none waits more than 2 s.
//
//   node dist/bench/search-online.js --url <owner URL of a loaded database> [--writers 16]
//
// Run it on a database at the version before the migrations to measure (for example one loaded by
// the search bench, `npm run bench -- --suites search --keep`, with an older checkout).
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { openStore } from '../store/store.js'
import { makeTurn } from './payload.js'
import { quantile } from './stats.js'
import { BENCH_TENANT } from './targets.js'

export interface OnlineResult {
  applied: number[]
  migrateS: number
  writers: number
  writes: number
  failures: number
  errors: string[]
  p50Ms: number
  p99Ms: number
  maxMs: number
  over2s: number
  steps: string[]
}

export async function measureOnlineMigration(
  url: string,
  writers: number,
  log: (msg: string) => void = () => {},
): Promise<OnlineResult> {
  const migrating = await openStore({ url, poolMax: 2, embedder: null })
  // The migration files first, their online steps not yet: the writers run this version's code, which
  // needs this version's functions (an upgrade in production runs the old code meanwhile). The files
  // change catalogs only; the steps are the part that reads and rewrites the turns.
  const files = await migrating.migrate({ onlineSteps: { maxBatches: 0 } })
  const writing = await openStore({ url, poolMax: Math.min(writers, 20), embedder: null })
  const latencies: number[] = []
  const errors: string[] = []
  let failures = 0
  let running = true
  const tenant = writing.tenant(BENCH_TENANT)
  const run = `online-${Date.now().toString(36)}`
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let seq = 0; running; seq++) {
      const t = performance.now()
      try {
        await tenant.recordTurn(makeTurn(`${run}-w${w}`, seq))
        latencies.push(performance.now() - t)
      } catch (err) {
        failures++
        if (errors.length < 5) errors.push((err as Error).message)
      }
    }
  })
  const steps: string[] = []
  let logged = 0
  try {
    await new Promise((r) => setTimeout(r, 3000))
    const t0 = performance.now()
    const result = await migrating.migrate({
      onlineSteps: {
        onProgress: (step, detail) => {
          // Every step's end, and its progress every 10 s.
          if (detail === 'done' || performance.now() - logged > 10_000) {
            logged = performance.now()
            const worst = latencies.reduce((a, b) => Math.max(a, b), 0)
            const line =
              `${((performance.now() - t0) / 1000).toFixed(1)} s ${step}: ${detail}; so far ` +
              `${latencies.length} writes, ${failures} failed, slowest ${worst.toFixed(0)} ms`
            steps.push(line)
            log(line)
          }
        },
      },
    })
    const migrateS = (performance.now() - t0) / 1000
    await new Promise((r) => setTimeout(r, 3000))
    running = false
    await Promise.all(loops)
    const sorted = Float64Array.from(latencies).sort()
    return {
      applied: [...files.applied, ...result.applied].map((m) => m.version),
      migrateS,
      writers,
      writes: sorted.length,
      failures,
      errors,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted.length ? (sorted[sorted.length - 1] as number) : 0,
      over2s: sorted.filter((x) => x > 2000).length,
      steps,
    }
  } finally {
    running = false
    await Promise.all(loops)
    await writing.close()
    await migrating.close()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (flag: string) => {
    const i = process.argv.indexOf(flag)
    return i > 0 ? process.argv[i + 1] : undefined
  }
  const url = arg('--url')
  if (!url) throw new Error('--url: the owner URL of the loaded database to upgrade')
  const writers = Number(arg('--writers') ?? 16)
  if (!Number.isInteger(writers) || writers < 1) throw new Error('--writers: a positive integer')
  const r = await measureOnlineMigration(url, writers, (m) => process.stderr.write(`${m}\n`))
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
}
