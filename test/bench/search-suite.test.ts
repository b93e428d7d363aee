// The search bench's data, in miniature: the server-side load writes turns whose search_vector is
// what the trigger would have written, one synthetic vector per turn, consistent sessions; and the
// store's searches run on it through the indexes the bench builds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadEvalSet } from '../../src/bench/search-eval.js'
import {
  basisVectors,
  buildVectorIndex,
  ensureSearchPartitions,
  loadSearchTurns,
  prepareSources,
  SYNTHETIC_MODEL,
  SyntheticEmbedder,
} from '../../src/bench/search-load.js'
import { searchMarkdown, searchTargets } from '../../src/bench/suite-search.js'
import { BENCH_TENANT } from '../../src/bench/targets.js'
import { vectorIndexName } from '../../src/search/vector-index.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'

describe(`search bench load (${backend})`, () => {
  let t: TestStore
  const basis = basisVectors()

  beforeAll(async () => {
    t = await openTestStore('bench-search', { options: { embedder: new SyntheticEmbedder(basis) } })
    const owner = t.store.transport.owner
    await ensureSearchPartitions(owner)
    const texts = await prepareSources(owner, await loadEvalSet(), basis)
    expect(texts).toBe(320)
    const client = await owner.connect()
    try {
      await loadSearchTurns(client as never, 0, 3, 20, texts)
      await loadSearchTurns(client as never, 3, 6, 20, texts)
      await buildVectorIndex(client as never, '64MB')
    } finally {
      client.release()
    }
  }, 120_000)
  afterAll(async () => {
    await t?.cleanup()
  })

  it('writes consistent turns, sessions, search vectors and one vector per turn', async () => {
    const [row] = await t.ownerQuery<Record<string, number>>(
      `SELECT count(*)::int AS turns,
              count(*) FILTER (WHERE c.search_vector = robot_brain.turn_search_vector(c.user_message, c.robot_response))::int AS vectors_ok,
              count(DISTINCT c.session_id)::int AS sessions,
              (SELECT count(*)::int FROM robot_brain.embeddings e
               WHERE e.tenant_id = $1 AND e.model = $2 AND cardinality(e.embedding) = 512) AS embeddings,
              (SELECT count(*)::int FROM robot_brain.sessions s WHERE s.tenant_id = $1 AND s.message_count = 20) AS full_sessions
       FROM robot_brain.conversations c WHERE c.tenant_id = $1`,
      [BENCH_TENANT, SYNTHETIC_MODEL],
    )
    expect(row).toEqual({ turns: 120, vectors_ok: 120, sessions: 6, embeddings: 120, full_sessions: 6 })
    const [index] = await t.ownerQuery<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = $1',
      [vectorIndexName(SYNTHETIC_MODEL, 512)],
    )
    expect(index?.n).toBe(1)
  })

  it('answers every mode the speed cases run, unfiltered and by session', async () => {
    const store = t.store.tenant(BENCH_TENANT)
    for (const mode of ['fulltext', 'semantic', 'hybrid'] as const) {
      const all = await store.search({ query: 'the', mode, limit: 10 })
      expect(all.results.length, mode).toBe(10)
      const one = await store.search({ query: 'the', mode, sessionId: 's4', limit: 10 })
      expect(one.results.length, mode).toBeGreaterThan(0)
      expect(one.results.every((r) => r.turn.sessionId === 's4')).toBe(true)
    }
  })

  it('reports targets only as met at 1M turns, and prints the tables', () => {
    const row = (
      storedTurns: number,
      mode: 'hybrid' | 'semantic',
      filter: 'none' | 'session',
      p95Ms: number,
    ) => ({
      storedTurns,
      mode,
      filter,
      queries: 10,
      p50Ms: p95Ms / 2,
      p95Ms,
      meanResults: 10,
    })
    const small = searchTargets({
      speed: [row(5000, 'hybrid', 'none', 10), row(5000, 'semantic', 'session', 5)],
      loads: [],
      ingest: [],
      notes: [],
    })
    expect(small.map((c) => c.met)).toEqual([null, null])
    const large = searchTargets({
      speed: [row(1_000_000, 'hybrid', 'none', 200), row(1_000_000, 'semantic', 'session', 5)],
      loads: [],
      ingest: [],
      notes: [],
    })
    expect(large.map((c) => c.met)).toEqual([true, false])
    expect(
      searchMarkdown({
        speed: [row(1_000_000, 'hybrid', 'none', 200)],
        loads: [],
        ingest: [],
        notes: [],
      }).join('\n'),
    ).toMatch(/\| 1M \| hybrid \| none \| 10 \| 100\.0 \| 200\.0 \| 10\.0 \|/)
  })
})
