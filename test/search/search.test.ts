// Search: full text (weighted tsvector, web-search syntax, snippets, any script), semantic (vectors by
// model, pgvector HNSW, filters that never cut the answer short), hybrid (RRF ranks), filters for every
// mode, tenants, deleted sessions, and input errors naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import type { SearchMode } from '../../src/search/types.js'
import type { Store } from '../../src/store/store.js'
import { TestEmbedder, wordVector } from '../support/embedder.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const MODES: SearchMode[] = ['fulltext', 'semantic', 'hybrid']

describe(`search (${backend})`, () => {
  let t: TestStore
  let store: Store
  const embedder = new TestEmbedder()

  /** Embeds everything queued, with the test embedder. */
  async function embedAll(): Promise<void> {
    await store.embedPending()
  }

  beforeAll(async () => {
    t = await openTestStore('search', { options: { embedder } })
    store = t.store
    const base = Date.parse('2026-03-01T00:00:00Z')
    const turns = [
      [
        's-cats',
        'cheerful',
        'My cat keeps running around the kitchen at night',
        'Cats are most active at dawn and dusk.',
      ],
      ['s-cats', 'cheerful', 'Should I buy a scratching post?', 'A sturdy scratching post saves your sofa.'],
      ['s-dogs', 'serious', 'The dog barks at the mailman', 'Dogs often guard the house against strangers.'],
      ['s-dogs', 'serious', 'How long should I walk my dog', 'Most dogs need an hour of walking a day.'],
      ['s-ja', 'cheerful', '東京の天気はどうですか', '今日の東京は晴れです'],
      ['s-ar', 'serious', 'ما هو الطقس في القاهرة', 'الطقس مشمس وحار'],
      ['s-ru', 'cheerful', 'Какая погода в Москве', 'В Москве идёт снег'],
      ['s-order', 'serious', 'Order 48213 has not arrived', 'Order 48213 ships tomorrow from Lisbon.'],
    ] as const
    let i = 0
    for (const [sessionId, robotPersonality, userMessage, robotResponse] of turns) {
      await store.recordTurn({
        sessionId,
        robotPersonality,
        userMessage,
        robotResponse,
        metadata: { channel: i % 2 === 0 ? 'web' : 'sms', n: i },
        createdAt: new Date(base + i * 86_400_000).toISOString(),
      })
      i++
    }
    await embedAll()
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('full text: stems, weights, snippets with the matches marked', async () => {
    const { results, mode } = await store.search({ query: 'runs', mode: 'fulltext' })
    expect(mode).toBe('fulltext')
    expect(results.map((r) => r.turn.userMessage)).toEqual([
      'My cat keeps running around the kitchen at night',
    ])
    expect(results[0]?.snippet).toContain('**running**')
    expect(results[0]?.ranks).toEqual({ fulltext: 1, semantic: null })
    // The user's words weigh more than the robot's: "dog" in both beats "dog" in the answer only.
    const dogs = await store.search({ query: 'dog', mode: 'fulltext' })
    expect(dogs.results.map((r) => r.turn.userMessage)).toEqual([
      'How long should I walk my dog',
      'The dog barks at the mailman',
    ])
    expect(dogs.results[0]?.score).toBeGreaterThan(0)
  })

  it('full text: web-search syntax (phrases, -word, or)', async () => {
    const phrase = await store.search({ query: '"scratching post"', mode: 'fulltext' })
    expect(phrase.results.map((r) => r.turn.sessionId)).toEqual(['s-cats'])
    const notMailman = await store.search({ query: 'dog -mailman', mode: 'fulltext' })
    expect(notMailman.results.map((r) => r.turn.userMessage)).toEqual(['How long should I walk my dog'])
    const either = await store.search({ query: 'kitchen or mailman', mode: 'fulltext' })
    expect(either.results).toHaveLength(2)
    const numbers = await store.search({ query: '48213', mode: 'fulltext' })
    expect(numbers.results.map((r) => r.turn.sessionId)).toEqual(['s-order'])
  })

  it('full text: any script searches, nothing errors', async () => {
    for (const [query, session] of [
      ['東京の天気はどうですか', 's-ja'],
      ['القاهرة', 's-ar'],
      ['Москве', 's-ru'],
    ] as const) {
      const { results } = await store.search({ query, mode: 'fulltext' })
      expect(
        results.map((r) => r.turn.sessionId),
        query,
      ).toEqual([session])
    }
    // Stop words only, punctuation only, emoji, right-to-left marks: empty answers, never an error.
    for (const query of [
      'the',
      '!!! ??? ...',
      '🐈‍⬛ 👍🏿',
      '\u200f\u200e',
      '"unterminated',
      '- or -',
      '&|!():*<->',
    ]) {
      const { results } = await store.search({ query, mode: 'fulltext' })
      expect(Array.isArray(results), query).toBe(true)
    }
    // 'simple' keeps stop words, so a query of one still finds the words as written.
    expect((await store.search({ query: 'the', mode: 'fulltext' })).results.length).toBeGreaterThan(0)
  })

  it('semantic: nearest vectors of the configured model first', async () => {
    const { results } = await store.search({ query: 'walking my dog every day', mode: 'semantic' })
    expect(results[0]?.turn.userMessage).toBe('How long should I walk my dog')
    expect(results[0]?.ranks).toEqual({ fulltext: null, semantic: 1 })
    expect(results.length).toBe(8)
    for (let i = 1; i < results.length; i++)
      expect(results[i - 1]?.score).toBeGreaterThanOrEqual(results[i]?.score ?? 0)
  })

  it('hybrid: fuses both arms by reciprocal rank and shows each rank', async () => {
    const { results, mode } = await store.search({ query: 'dog walking', mode: 'hybrid', limit: 3 })
    expect(mode).toBe('hybrid')
    expect(results).toHaveLength(3)
    const top = results[0]
    expect(top?.turn.userMessage).toBe('How long should I walk my dog')
    expect(top?.ranks.fulltext).toBe(1)
    expect(top?.ranks.semantic).toBe(1)
    expect(top?.score).toBeCloseTo(2 / 61, 10)
  })

  it('default mode: hybrid where vectors of the configured model exist', async () => {
    expect((await store.search({ query: 'dog' })).mode).toBe('hybrid')
    // Another tenant with no vectors yet: full text.
    const other = store.tenant('search-no-vectors')
    await other.recordTurn(turnInput('x', 1, { userMessage: 'a lonely dog' }))
    const r = await other.search({ query: 'dog' })
    expect(r.mode).toBe('fulltext')
    expect(r.results).toHaveLength(1)
  })

  it('filters apply in every mode: session, personality, time range, metadata', async () => {
    const cases: Array<[Parameters<Store['search']>[0], string[]]> = [
      [{ query: 'dog cat weather order', sessionId: 's-dogs' }, ['s-dogs', 's-dogs']],
      [
        { query: 'dog cat weather order', robotPersonality: 'serious' },
        ['s-dogs', 's-dogs', 's-ar', 's-order'],
      ],
      [
        { query: 'dog cat weather order', from: '2026-03-03T00:00:00Z', to: '2026-03-05T00:00:00Z' },
        ['s-dogs', 's-dogs'],
      ],
      [
        { query: 'dog cat weather order', metadata: { channel: 'sms' } },
        ['s-cats', 's-dogs', 's-ar', 's-order'],
      ],
      [{ query: 'dog cat weather order', metadata: { channel: 'sms', n: 3 } }, ['s-dogs']],
    ]
    for (const [filters, sessions] of cases) {
      for (const mode of MODES) {
        const { results } = await store.search({ ...filters, mode, limit: 100 })
        const got = results.map((r) => r.turn.sessionId)
        if (mode === 'fulltext') {
          // Full text returns only matching turns, all within the filter.
          expect(
            got.every((s) => sessions.includes(s)),
            `${mode} ${JSON.stringify(filters)}`,
          ).toBe(true)
        } else {
          // Every turn has a vector: semantic and hybrid return all that pass the filter.
          expect(got.sort(), `${mode} ${JSON.stringify(filters)}`).toEqual([...sessions].sort())
        }
      }
    }
  })

  it("the userId filter follows the session's user, in every mode", async () => {
    await store.putSession('s-dogs', { userId: 'ann' })
    await store.putSession('s-ar', { userId: 'ann' })
    await store.putSession('s-cats', { userId: 'bob' })
    try {
      const query = 'dog cat weather order'
      for (const mode of MODES) {
        const ann = (await store.search({ query, userId: 'ann', mode, limit: 100 })).results
        const got = ann.map((r) => r.turn.sessionId)
        if (mode === 'fulltext') {
          // Full text needs every word unless told "or": ann's dog turns match, bob's cats do not pass.
          const words = await store.search({ query: 'dog or cat', userId: 'ann', mode, limit: 100 })
          expect(words.results.map((r) => r.turn.sessionId)).toEqual(['s-dogs', 's-dogs'])
        } else expect(got.sort(), mode).toEqual(['s-ar', 's-dogs', 's-dogs'])
        const nobody = await store.search({ query, userId: 'carol', mode, limit: 100 })
        expect(nobody.results, mode).toEqual([])
      }
      // A session given to another user leaves the first user's results at once.
      await store.putSession('s-ar', { userId: 'bob' })
      const after = await store.search({ query, userId: 'ann', mode: 'semantic', limit: 100 })
      expect(after.results.map((r) => r.turn.sessionId)).toEqual(['s-dogs', 's-dogs'])
    } finally {
      for (const s of ['s-dogs', 's-ar', 's-cats']) await store.putSession(s, { userId: null })
    }
  })

  it('tenants never see each other; a deleted session never appears', async () => {
    const a = store.tenant('search-a')
    const b = store.tenant('search-b')
    await a.recordTurn(turnInput('shared-id', 1, { userMessage: 'zebra crossing in tenant a' }))
    await b.recordTurn(turnInput('shared-id', 1, { userMessage: 'zebra crossing in tenant b' }))
    await b.recordTurn(turnInput('doomed', 1, { userMessage: 'zebra to forget' }))
    await embedAll()
    for (const mode of MODES) {
      const ra = await a.search({ query: 'zebra crossing', mode })
      expect(
        ra.results.map((r) => r.turn.userMessage),
        mode,
      ).toEqual(['zebra crossing in tenant a'])
    }
    await b.deleteSession('doomed')
    for (const mode of MODES) {
      const rb = await b.search({ query: 'zebra', mode })
      expect(
        rb.results.map((r) => r.turn.userMessage),
        mode,
      ).toEqual(['zebra crossing in tenant b'])
    }
    // Its vectors and queue entries went with it.
    const [left] = await t.ownerQuery<{ n: number }>(
      `SELECT (SELECT count(*) FROM robot_brain.embeddings WHERE tenant_id = 'search-b')::int
            + (SELECT count(*) FROM robot_brain.embedding_queue WHERE tenant_id = 'search-b')::int AS n`,
    )
    expect(left?.n).toBe(1)
  })

  it('bad input is refused before any SQL, naming the field', async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ query: 'x', limit: 0 }, 'limit'],
      [{ query: 'x', limit: 101 }, 'limit'],
      [{ query: 'x', mode: 'fuzzy' }, 'mode'],
      [{ query: 'x'.repeat(2000) }, 'query'],
      [{ query: 'a\u0000b' }, 'query'],
      [{ query: '   ' }, 'query'],
      [{ query: 'x', sessionId: '' }, 'sessionId'],
      [{ query: 'x', robotPersonality: 'p'.repeat(51) }, 'robotPersonality'],
      [{ query: 'x', from: 'yesterday' }, 'from'],
      [{ query: 'x', from: '2026-03-02T00:00:00Z', to: '2026-03-01T00:00:00Z' }, 'to'],
      [{ query: 'x', metadata: [1] }, 'metadata'],
      [{ query: 'x', userId: 'u\u0000' }, 'userId'],
    ]
    for (const [input, field] of bad) {
      const err = await store.search(input as never).then(
        () => null,
        (e: unknown) => e,
      )
      expect(err, JSON.stringify(input).slice(0, 80)).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).field).toBe(field)
    }
  })

  it('client-sent vectors are stored with their model and found when that model is configured', async () => {
    const vec = wordVector('penguin colony on the ice')
    const turn = await store.recordTurn({
      ...turnInput('s-client', 1, { userMessage: 'unrelated words entirely', robotResponse: 'nothing here' }),
      embedding: { model: embedder.model, vector: vec },
    })
    const [row] = await t.ownerQuery<{ model: string; dimensions: number }>(
      'SELECT model, dimensions FROM robot_brain.embeddings WHERE turn_id = $1',
      [turn.id],
    )
    expect(row).toEqual({ model: embedder.model, dimensions: 64 })
    const { results } = await store.search({ query: 'penguin colony ice', mode: 'semantic', limit: 1 })
    expect(results[0]?.turn.id).toBe(turn.id)
    // The worker does not overwrite it with its own vector.
    await embedAll()
    const { results: again } = await store.search({ query: 'penguin colony ice', mode: 'semantic', limit: 1 })
    expect(again[0]?.turn.id).toBe(turn.id)
    const err = await store
      .recordTurn({ ...turnInput('s-client', 2), embedding: { model: 'm', vector: [1, Number.NaN] } })
      .catch((e: unknown) => e)
    expect((err as ValidationError).field).toBe('embedding.vector')
  })
})
