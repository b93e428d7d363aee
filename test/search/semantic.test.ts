// Semantic search at a size where the HNSW index is used: filters never cut the answer short (a
// filtered search returns min(limit, matching turns)), results are the near-exact nearest, and a
// database without pgvector answers semantic requests with a clear error while everything else works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VectorUnavailableError, vectorIndexName } from '../../src/search/vector-index.js'
import type { Store } from '../../src/store/store.js'
import { TestEmbedder } from '../support/embedder.js'
import { backend, openTestStore, serverBackend, type TestStore } from '../support/store.js'

/** Deterministic pseudo-random unit vectors (mulberry32). */
function randomVectors(n: number, dims: number, seed: number): number[][] {
  let a = seed
  const rand = () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5
  }
  return Array.from({ length: n }, () => {
    const v = Array.from({ length: dims }, rand)
    const norm = Math.hypot(...v)
    return v.map((x) => x / norm)
  })
}

const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0)

describe(`semantic search at scale (${backend})`, () => {
  let t: TestStore
  let store: Store
  const embedder = new TestEmbedder()
  const N = 600
  const vectors = randomVectors(N, 64, 42)
  const ids: string[] = []
  const personality = (i: number) => (i % 150 === 0 ? 'rare' : i % 2 ? 'odd' : 'even')

  beforeAll(async () => {
    t = await openTestStore('semantic-scale', { options: { embedder } })
    store = t.store
    const base = Date.parse('2026-04-01T00:00:00Z')
    for (let start = 0; start < N; start += 100) {
      const batch = await Promise.all(
        vectors.slice(start, start + 100).map((vector, k) => {
          const i = start + k
          return store.recordTurn({
            sessionId: `sess-${i % 60}`,
            robotPersonality: personality(i),
            userMessage: `turn ${i}`,
            robotResponse: `answer ${i}`,
            metadata: { bucket: i % 100 },
            createdAt: new Date(base + i * 60_000).toISOString(),
            embedding: { model: embedder.model, vector },
          })
        }),
      )
      ids.push(...batch.map((x) => x.id))
    }
    await store.embedPending() // builds the model's HNSW index; every turn already has its vector
  }, 300_000)
  afterAll(async () => {
    await t?.cleanup()
  })

  it('builds one HNSW index for the configured model', async () => {
    const rows = await t.ownerQuery<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = 'robot_brain' AND indexname = $1`,
      [vectorIndexName(embedder.model, 64)],
    )
    expect(rows[0]?.indexdef).toMatch(/USING hnsw .*vector_cosine_ops.*WHERE/)
  })

  it('returns min(limit, matching turns) under every filter', async () => {
    // The query vector: a stored one, so its own turn is the nearest.
    const query = 'unused: the vector comes from the embedder'
    const q = vectors[7] as number[]
    embedder.embed = async (texts) => texts.map(() => q)
    const cases: Array<[Record<string, unknown>, number, number]> = [
      [{}, 100, 100],
      [{ robotPersonality: 'rare' }, 10, 4],
      [{ robotPersonality: 'odd' }, 100, 100],
      [{ sessionId: 'sess-7' }, 20, 10],
      [{ metadata: { bucket: 7 } }, 10, 6],
      [{ from: '2026-04-01T01:00:00Z', to: '2026-04-01T01:05:00Z' }, 10, 5],
      [{ robotPersonality: 'rare', metadata: { bucket: 0 } }, 10, 2],
    ]
    for (const [filters, limit, expected] of cases) {
      const { results } = await store.search({ query, mode: 'semantic', limit, ...filters })
      expect(results.length, JSON.stringify(filters)).toBe(expected)
      for (let i = 1; i < results.length; i++)
        expect(results[i - 1]?.score ?? 0).toBeGreaterThanOrEqual(results[i]?.score ?? 0)
    }
    // Near-exact: the top 10 of a common filter overlap the brute-force top 10.
    const { results } = await store.search({ query, mode: 'semantic', limit: 10, robotPersonality: 'odd' })
    const exact = vectors
      .map((v, i) => ({ i, d: cosine(v, q) }))
      .filter(({ i }) => personality(i) === 'odd')
      .sort((a, b) => b.d - a.d)
      .slice(0, 10)
      .map(({ i }) => ids[i])
    const overlap = results.filter((r) => exact.includes(r.turn.id)).length
    expect(overlap).toBeGreaterThanOrEqual(9)
    const self = await store.search({ query, mode: 'semantic', limit: 1 })
    expect(self.results[0]?.turn.id).toBe(ids[7])
    expect(self.results[0]?.score).toBeCloseTo(1, 5)
  })

  it('a metadata filter reaches the metadata index through robot_brain.metadata_turns, for its own tenant only', async () => {
    // The runtime role: `@>` is not leakproof, so row-level security keeps it out of index scans;
    // the function (owner's rights) answers only for the tenant the transaction acts for.
    const count = async (acting: string, asked: string) => {
      const { rows } = await store.transport.app.query<{ n: number }>({
        text: `SELECT count(m.id)::int AS n FROM robot_brain.use_tenant($1) AS ctx(t)
               LEFT JOIN LATERAL robot_brain.metadata_turns($2, '{"bucket": 7}'::jsonb) m ON true`,
        values: [acting, asked],
      })
      return rows[0]?.n
    }
    expect(await count('default', 'default')).toBe(6)
    expect(await count('someone-else', 'default')).toBe(0)
    const { results } = await store.search({
      query: 'x',
      mode: 'semantic',
      limit: 10,
      metadata: { bucket: 7 },
    })
    expect(results.map((r) => r.turn.metadata)).toEqual(Array(6).fill({ bucket: 7 }))
  })

  it.runIf(serverBackend)('without pgvector: a clear error for semantic, everything else works', async () => {
    await t.ownerQuery('DROP EXTENSION vector CASCADE')
    const err = await store.search({ query: 'x', mode: 'semantic' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(VectorUnavailableError)
    expect(err).toMatchObject({ status: 503, code: 'vector_extension_missing' })
    expect((err as Error).message).toMatch(/pgvector/)
    const fresh = await t.reopen()
    expect((await fresh.search({ query: 'turn' })).mode).toBe('fulltext')
    await fresh.recordTurn({
      sessionId: 'after',
      robotPersonality: 'odd',
      userMessage: 'still writes',
      robotResponse: 'yes',
    })
    expect((await fresh.search({ query: 'still writes', mode: 'fulltext' })).results).toHaveLength(1)
    const semantic = await fresh.search({ query: 'x', mode: 'hybrid' }).catch((e: unknown) => e)
    expect(semantic).toBeInstanceOf(VectorUnavailableError)
  })
})
