// Suite f: search. Quality on the labelled evaluation set (embedded database, built-in model:
// Recall@10 and nDCG@10 per mode); speed at growing sizes on PostgreSQL (p50/p95 of full text,
// semantic and hybrid, unfiltered and filtered by session, one client, synthetic vectors); and turn
// ingest with the search columns, triggers and indexes against the same ingest without them, in the
// same run (two databases, alternating rounds).
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { BuiltinEmbedder } from '../search/embedders/builtin.js'
import type { SearchMode } from '../search/types.js'
import { vectorIndexName } from '../search/vector-index.js'
import { openStore, type Store } from '../store/store.js'
import { type CompareOptions, compare, runClosedLoop } from './load.js'
import { makeTurn } from './payload.js'
import type { ResultRow, TargetCheck } from './report.js'
import type { RunLog } from './run-log.js'
import { EVAL_MODES, type EvalSet, loadEvalSet, type QualityResult, runQualityEval } from './search-eval.js'
import {
  basisVectors,
  buildVectorIndex,
  ensureSearchPartitions,
  loadSearchTurns,
  prepareSources,
  SYNTHETIC_DIMS,
  SYNTHETIC_MODEL,
  SyntheticEmbedder,
} from './search-load.js'
import { type BenchDatabase, createBenchDatabase, type ServerOptions } from './server.js'
import { quantile } from './stats.js'
import { sizeLabel } from './suite-history.js'
import { BENCH_TENANT, POOL_MAX } from './targets.js'

export interface SearchProfile {
  quality: boolean
  sizes: number[]
  perSession: number
  /** Measured time per speed case, after a warm-up. */
  caseMs: number
  warmupMs: number
  ingest: CompareOptions
  ingestWriters: number[]
  /** Latency of embedding one query with the built-in model. */
  queryEmbedding: boolean
  maintenanceMem: string
}

export const SEARCH_PROFILES: Record<'quick' | 'full', SearchProfile> = {
  // Under ~25 s on two cores: one small size, short cases; quality is the CI test's (quality.test.ts).
  quick: {
    quality: false,
    sizes: [5_000],
    perSession: 50,
    caseMs: 600,
    warmupMs: 150,
    ingest: { rounds: 2, durationMs: 400, warmupMs: 100 },
    ingestWriters: [64],
    queryEmbedding: false,
    maintenanceMem: '256MB',
  },
  full: {
    quality: true,
    sizes: [100_000, 1_000_000],
    perSession: 100,
    caseMs: 8000,
    warmupMs: 2000,
    ingest: { rounds: 4, durationMs: 3000, warmupMs: 1000 },
    ingestWriters: [8, 64],
    queryEmbedding: true,
    maintenanceMem: '4GB',
  },
}

export interface SpeedRow {
  storedTurns: number
  mode: SearchMode
  filter: 'none' | 'session'
  queries: number
  p50Ms: number
  p95Ms: number
  /** Mean results per search (a search that finds nothing is cheap: this shows what was done). */
  meanResults: number
}

export interface SearchReport {
  quality?: Omit<QualityResult, 'perQuery'>
  speed: SpeedRow[]
  /** Load time per size (server-side generation, index builds), for the record. */
  loads: Array<{ storedTurns: number; loadS: number; vectorIndexS: number }>
  queryEmbedding?: { model: string; p50Ms: number; p95Ms: number; queries: number }
  ingest: ResultRow[]
  notes: string[]
}

export function emptySearchReport(): SearchReport {
  return { speed: [], loads: [], ingest: [], notes: [] }
}

/** Quality on an embedded database of its own, with the built-in model. */
export async function runQuality(set: EvalSet): Promise<Omit<QualityResult, 'perQuery'>> {
  const store = await openStore({ dataDir: 'memory://', embedder: new BuiltinEmbedder() })
  try {
    await store.migrate()
    const { perQuery: _, ...q } = await runQualityEval(store.tenant('eval'), set)
    return q
  } finally {
    await store.close()
  }
}

/** Drops what migration 0005 added to the write path: triggers and the full-text index. */
async function stripSearch(ownerUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: ownerUrl })
  await c.connect()
  try {
    await c.query(`DROP TRIGGER IF EXISTS fill_search_vector ON robot_brain.conversations;
      DROP TRIGGER IF EXISTS enqueue_embeddings ON robot_brain.conversations;
      DROP INDEX IF EXISTS robot_brain.conversations_search_idx`)
  } finally {
    await c.end()
  }
}

async function ingestCase(
  withSearch: Store,
  without: Store,
  writers: number,
  opts: CompareOptions,
): Promise<ResultRow> {
  const session = (side: string, w: number) => `ti${side}-${writers}-w${w}`
  const cmp = await compare(
    {
      run: (ms) => runClosedLoop(writers, ms, (w, seq) => without.recordTurn(makeTurn(session('b', w), seq))),
    },
    {
      run: (ms) =>
        runClosedLoop(writers, ms, (w, seq) => withSearch.recordTurn(makeTurn(session('p', w), seq))),
    },
    opts,
  )
  return {
    suite: 'search',
    target: 'pg',
    case: `turn ingest, ${writers} writers (distinct sessions)`,
    key: `search.ingest.pg.${writers}`,
    unit: 'turns/s',
    baselineName: 'recordTurn without search columns',
    projectName: 'recordTurn with search',
    ...cmp,
  }
}

async function speedCase(
  store: Store,
  set: EvalSet,
  storedTurns: number,
  sessions: number,
  mode: SearchMode,
  filter: 'none' | 'session',
  profile: SearchProfile,
): Promise<SpeedRow> {
  const queries = set.queries.map((q) => q.query)
  let results = 0
  const op = async (_w: number, seq: number) => {
    // A fixed stride through the queries: every kind (paraphrase, keyword, name, filtered) in turn.
    const query = queries[(seq * 23) % queries.length] as string
    const sessionId = filter === 'session' ? `s${(seq * 7919) % sessions}` : undefined
    const r = await store.search({ query, mode, sessionId, limit: 10 })
    results += r.results.length
  }
  await runClosedLoop(1, profile.warmupMs, op)
  results = 0
  const { latencies } = await runClosedLoop(1, profile.caseMs, op)
  const sorted = Float64Array.from(latencies).sort()
  return {
    storedTurns,
    mode,
    filter,
    queries: sorted.length,
    p50Ms: quantile(sorted, 0.5),
    p95Ms: quantile(sorted, 0.95),
    meanResults: sorted.length ? results / sorted.length : 0,
  }
}

async function queryEmbedding(set: EvalSet): Promise<SearchReport['queryEmbedding']> {
  const e = new BuiltinEmbedder()
  try {
    await e.embed(['warm up'])
    const latencies: number[] = []
    for (const q of set.queries) {
      const t = performance.now()
      await e.embed([q.query])
      latencies.push(performance.now() - t)
    }
    const sorted = Float64Array.from(latencies).sort()
    return {
      model: e.model,
      p50Ms: quantile(sorted, 0.5),
      p95Ms: quantile(sorted, 0.95),
      queries: sorted.length,
    }
  } finally {
    await e.close()
  }
}

/** f: the search suite. The speed part needs the PostgreSQL server (two databases of its own). */
export async function searchPhase(
  run: RunLog,
  mode: 'quick' | 'full',
  server: (ServerOptions & { keep: boolean; searchDb?: string }) | null,
  report: SearchReport,
): Promise<string | undefined> {
  const profile = SEARCH_PROFILES[mode]
  const set = await loadEvalSet()
  if (server?.searchDb) {
    // Speed only: quality and ingest do not depend on the kept database; a run without it measures them.
    run.skipped.push('search quality, query embedding and ingest: not with --search-db (speed only)')
    return keptSpeed(run, server, server.searchDb, set, basisVectors(), profile, report)
  }
  if (profile.quality) {
    run.log('search quality on the evaluation set (embedded, built-in model)')
    const q = await run.step('search quality', () => runQuality(set))
    if (q) {
      report.quality = q
      for (const m of q.modes)
        run.log(`  ${m.mode}: Recall@10 ${m.recallAt10.toFixed(3)}, nDCG@10 ${m.ndcgAt10.toFixed(3)}`)
    }
  } else {
    run.skipped.push('search quality: not in --quick (test/search/quality.test.ts holds its floors in CI)')
  }
  if (profile.queryEmbedding) {
    const e = await run.step('query embedding', () => queryEmbedding(set))
    report.queryEmbedding = e
    if (e)
      run.log(`  query embedding (${e.model}): p50 ${e.p50Ms.toFixed(1)} ms, p95 ${e.p95Ms.toFixed(1)} ms`)
  }
  if (!server) {
    run.skipped.push('search speed and ingest: they need the pg target')
    return undefined
  }
  const dbs: BenchDatabase[] = []
  const stores: Store[] = []
  let version: string | undefined
  try {
    const withDb = await createBenchDatabase(server, '_search')
    dbs.push(withDb)
    version = withDb.serverVersion
    const withoutDb = await createBenchDatabase(server, '_nosearch')
    dbs.push(withoutDb)
    const basis = basisVectors()
    const open = async (url: string) => {
      const s = await openStore({ url, poolMax: POOL_MAX, embedder: new SyntheticEmbedder(basis) })
      stores.push(s)
      return s
    }
    const withRoot = await open(withDb.ownerUrl)
    await withRoot.migrate()
    const withoutRoot = await open(withoutDb.ownerUrl)
    await withoutRoot.migrate()
    await stripSearch(withoutDb.ownerUrl)
    const withSearch = withRoot.tenant(BENCH_TENANT)
    const without = withoutRoot.tenant(BENCH_TENANT)

    run.log('search: turn ingest with and without the search columns')
    for (const writers of profile.ingestWriters) {
      const row = await run.step(`search ingest ${writers} writers`, () =>
        ingestCase(withSearch, without, writers, profile.ingest),
      )
      if (row) {
        report.ingest.push(row)
        run.record(row)
      }
    }
    // The ingest's rows stay out of the speed figures' sessions (s<n>); their queue entries are dropped.
    await withRoot.transport.owner.query('TRUNCATE robot_brain.embedding_queue')

    const owner = new pg.Client({ connectionString: withDb.ownerUrl, application_name: 'robot-brain-bench' })
    await owner.connect()
    try {
      const ownerPool = withRoot.transport.owner
      await ensureSearchPartitions(ownerPool)
      const texts = await prepareSources(ownerPool, set, basis)
      let loaded = 0
      for (const size of profile.sizes) {
        const t0 = performance.now()
        const ok = await run.step(`search: loading ${sizeLabel(size)} turns`, async () => {
          await owner.query(
            `DROP INDEX IF EXISTS robot_brain.${vectorIndexName(SYNTHETIC_MODEL, SYNTHETIC_DIMS)}`,
          )
          await loadSearchTurns(
            owner,
            loaded / profile.perSession,
            size / profile.perSession,
            profile.perSession,
            texts,
            (n) => run.log(`  loaded ${(loaded + n).toLocaleString('en-US')} turns`),
          )
          const t1 = performance.now()
          await buildVectorIndex(owner, profile.maintenanceMem)
          const vectorIndexS = (performance.now() - t1) / 1000
          await owner.query('VACUUM (ANALYZE) robot_brain.conversations')
          await owner.query('VACUUM (ANALYZE) robot_brain.embeddings')
          await owner.query('VACUUM (ANALYZE) robot_brain.sessions')
          loaded = size
          report.loads.push({ storedTurns: size, loadS: (performance.now() - t0) / 1000, vectorIndexS })
          run.log(
            `  ${sizeLabel(size)} turns ready in ${((performance.now() - t0) / 1000).toFixed(1)} s (vector index ${vectorIndexS.toFixed(1)} s)`,
          )
          return true
        })
        if (!ok) break
        await speedCases(run, withSearch, set, size, profile, report)
      }
    } finally {
      await owner.end().catch(() => {})
    }
  } finally {
    for (const s of stores) await s.close().catch(() => {})
    for (const db of dbs) {
      if (server.keep) run.log(`kept database ${db.name}`)
      else await db.drop().catch((err) => run.error(`dropping ${db.name}: ${(err as Error).message}`))
    }
  }
  return version
}

/** Every mode, unfiltered and filtered by session, at one size. */
async function speedCases(
  run: RunLog,
  store: Store,
  set: EvalSet,
  size: number,
  profile: SearchProfile,
  report: SearchReport,
  vectorIndex = true,
): Promise<void> {
  const sessions = size / profile.perSession
  for (const filter of ['none', 'session'] as const) {
    for (const m of EVAL_MODES) {
      if (!vectorIndex && filter === 'none' && m !== 'fulltext') continue
      const row = await run.step(`search ${m} ${filter} at ${sizeLabel(size)}`, () =>
        speedCase(store, set, size, sessions, m, filter, profile),
      )
      if (row) {
        report.speed.push(row)
        run.log(
          `  ${m}, ${filter === 'none' ? 'unfiltered' : 'one session'}, ${sizeLabel(size)}: ` +
            `p50 ${row.p50Ms.toFixed(1)} ms, p95 ${row.p95Ms.toFixed(1)} ms (${row.queries} searches)`,
        )
      }
    }
  }
}

/**
 * Speed on a database an earlier run kept (--keep --search-db): migrated to this version, measured at
 * the number of turns it holds, as it is (no index built), never dropped. Loading and indexing 1M turns takes longer than an
 * hour on two cores, so a large size is loaded once and measured by later runs.
 */
async function keptSpeed(
  run: RunLog,
  server: ServerOptions,
  name: string,
  set: EvalSet,
  basis: number[][][],
  profile: SearchProfile,
  report: SearchReport,
): Promise<string> {
  const url = new URL(server.adminUrl)
  url.pathname = `/${name}`
  const store = await openStore({
    url: url.toString(),
    poolMax: POOL_MAX,
    embedder: new SyntheticEmbedder(basis),
  })
  try {
    await store.migrate()
    const owner = store.transport.owner
    const { rows } = await owner.query<{ n: number }>({
      text: 'SELECT count(*)::int AS n FROM robot_brain.conversations WHERE tenant_id = $1',
      values: [BENCH_TENANT],
    })
    const size = rows[0]?.n ?? 0
    if (size < profile.perSession) throw new Error(`--search-db ${name}: no bench turns in it`)
    // Measured as it is: without the model's vector index (still being built), the cases that need it
    // (unfiltered semantic and hybrid) are left out rather than timed as exact scans.
    const index = await owner.query<{ valid: boolean }>({
      text: 'SELECT x.indisvalid AS valid FROM pg_index x WHERE x.indexrelid = to_regclass($1)',
      values: [`robot_brain.${vectorIndexName(SYNTHETIC_MODEL, SYNTHETIC_DIMS)}`],
    })
    const indexed = index.rows[0]?.valid === true
    if (!indexed)
      report.notes.push(
        `${sizeLabel(size)} turns: unfiltered semantic and hybrid not measured (the vector index was not built yet)`,
      )
    await owner.query('ANALYZE robot_brain.conversations')
    run.log(`search: speed on kept database ${name}, ${sizeLabel(size)} turns`)
    report.notes.push(
      `${sizeLabel(size)} turns: measured on a database loaded by an earlier run (--search-db)`,
    )
    await speedCases(run, store.tenant(BENCH_TENANT), set, size, profile, report, indexed)
    const { rows: v } = await owner.query<{ v: string }>("SELECT current_setting('server_version') AS v")
    return v[0]?.v ?? 'unknown'
  } finally {
    await store.close()
  }
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-')

/** The search targets, from the largest measured size (met only counts at 1M turns). */
export function searchTargets(r: SearchReport): TargetCheck[] {
  const checks: TargetCheck[] = []
  if (r.quality) {
    const by = Object.fromEntries(r.quality.modes.map((m) => [m.mode, m]))
    const h = by.hybrid
    const best = (k: 'recallAt10' | 'ndcgAt10') => Math.max(by.fulltext?.[k] ?? 0, by.semantic?.[k] ?? 0)
    if (h) {
      const met = h.recallAt10 >= best('recallAt10') && h.ndcgAt10 >= best('ndcgAt10')
      checks.push({
        name: 'hybrid quality vs the better single mode (Recall@10, nDCG@10)',
        goal: '≥',
        measured: `${h.recallAt10.toFixed(3)} vs ${best('recallAt10').toFixed(3)}, ${h.ndcgAt10.toFixed(3)} vs ${best('ndcgAt10').toFixed(3)}`,
        met,
        note: met ? '' : 'hybrid below the better single mode',
      })
    }
  }
  const largest = Math.max(0, ...r.speed.map((s) => s.storedTurns))
  const at1M = largest >= 1_000_000
  const size = largest ? sizeLabel(largest) : 'no size'
  const filtered = r.speed.filter((s) => s.storedTurns === largest && s.filter === 'session')
  if (filtered.length) {
    const worst = filtered.reduce((a, b) => (b.p95Ms > a.p95Ms ? b : a))
    const met = worst.p95Ms <= 20
    checks.push({
      name: `search filtered by session, worst mode p95 (${size} turns)`,
      goal: '≤ 20 ms at 1M',
      measured: `${fmt(worst.p95Ms)} ms (${worst.mode})`,
      met: at1M ? met : null,
      note: at1M ? (met ? '' : `over by ${fmt(worst.p95Ms - 20)} ms`) : `measured at ${size}, not 1M`,
    })
  }
  const hybrid = r.speed.find((s) => s.storedTurns === largest && s.filter === 'none' && s.mode === 'hybrid')
  if (hybrid) {
    const met = hybrid.p95Ms <= 150
    checks.push({
      name: `unfiltered hybrid p95 (${size} turns)`,
      goal: '≤ 150 ms at 1M',
      measured: `${fmt(hybrid.p95Ms)} ms`,
      met: at1M ? met : null,
      note: at1M ? (met ? '' : `over by ${fmt(hybrid.p95Ms - 150)} ms`) : `measured at ${size}, not 1M`,
    })
  }
  const ingest = r.ingest.find((x) => x.key === 'search.ingest.pg.64')
  if (ingest) {
    const met = ingest.ratio >= 0.85
    checks.push({
      name: 'turn ingest with search vs without, 64 writers',
      goal: '≥ 0.85×',
      measured: `${ingest.ratio.toFixed(2)}×`,
      met,
      note: met ? '' : `missed by ${((1 - ingest.ratio / 0.85) * 100).toFixed(0)}%`,
    })
  }
  return checks
}

/** The search section of the Markdown report. */
export function searchMarkdown(r: SearchReport): string[] {
  const lines: string[] = ['', '## Search']
  if (r.quality) {
    const q = r.quality
    lines.push(
      '',
      `Quality: ${q.turns} labelled turns in ${q.sessions} sessions, ${q.queries} queries, model ${q.embedder}, embedded database.`,
      '',
      '| mode | Recall@10 | nDCG@10 | ' +
        Object.keys(q.modes[0]?.byKind ?? {})
          .map((k) => `${k} R / nDCG`)
          .join(' | ') +
        ' |',
      `|---|---:|---:|${Object.keys(q.modes[0]?.byKind ?? {})
        .map(() => '---:|')
        .join('')}`,
      ...q.modes.map(
        (m) =>
          `| ${m.mode} | ${m.recallAt10.toFixed(3)} | ${m.ndcgAt10.toFixed(3)} | ` +
          Object.values(m.byKind)
            .map((k) => `${k.recallAt10.toFixed(2)} / ${k.ndcgAt10.toFixed(2)}`)
            .join(' | ') +
          ' |',
      ),
    )
  }
  if (r.speed.length) {
    lines.push(
      '',
      'Speed: one client, PostgreSQL direct, `store.search` end to end with limit 10 (query vectors synthetic: add the query embedding below for the built-in model).',
      '',
      '| turns | mode | filter | searches | p50 ms | p95 ms | results/search |',
      '|---:|---|---|---:|---:|---:|---:|',
      ...r.speed.map(
        (s) =>
          `| ${sizeLabel(s.storedTurns)} | ${s.mode} | ${s.filter === 'none' ? 'none' : 'one session'} | ${s.queries} | ${fmt(s.p50Ms)} | ${fmt(s.p95Ms)} | ${s.meanResults.toFixed(1)} |`,
      ),
    )
  }
  if (r.loads.length)
    lines.push(
      '',
      ...r.loads.map(
        (l) =>
          `- ${sizeLabel(l.storedTurns)} turns loaded in ${l.loadS.toFixed(0)} s (HNSW index build ${l.vectorIndexS.toFixed(0)} s)`,
      ),
    )
  if (r.queryEmbedding) {
    const e = r.queryEmbedding
    lines.push(
      '',
      `Query embedding with ${e.model} (${e.queries} queries, one at a time): p50 ${fmt(e.p50Ms)} ms, p95 ${fmt(e.p95Ms)} ms.`,
    )
  }
  if (r.notes.length) lines.push('', ...r.notes.map((n) => `- ${n}`))
  return lines
}
