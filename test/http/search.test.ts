// /v1/search and /v1/sessions/{id}/context over a real server, with the built-in embedder (Universal
// Sentence Encoder lite, offline): turns posted over HTTP are found in every mode within seconds,
// a paraphrase finds its turn, and bad input gets a 400 naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendName } from '../support/backend.js'
import { OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

const TURNS = [
  ['travel', 'My flight to Paris was cancelled this morning', 'I am sorry, let me find you another flight.'],
  ['account', 'I forgot the password of my account', 'You can reset it from the login page.'],
  ['cooking', 'What is a good recipe for pancakes?', 'Flour, eggs, milk and a pinch of salt.'],
  ['travel', 'Can I bring my cat on the train?', 'Small pets travel free in a carrier.'],
] as const

describe(`HTTP search (${backendName()})`, () => {
  let server: Server

  beforeAll(async () => {
    server = await startServer('http-search')
    let i = 0
    for (const [sessionId, userMessage, robotResponse] of TURNS) {
      const r = await server.call('POST', `/v1/sessions/${sessionId}/turns`, {
        body: { robotPersonality: i % 2 ? 'calm' : 'cheerful', userMessage, robotResponse, metadata: { i } },
      })
      expect(r.status).toBe(201)
      i++
    }
    server.store.startEmbeddingWorker({ idleMs: 100 })
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  it('a posted turn is found in every mode within seconds (built-in embedder)', async () => {
    const found = await server.call('GET', '/v1/search?q=Paris&mode=fulltext')
    expect(found.status).toBe(200)
    expect(found.body.results[0].turn.userMessage).toBe(TURNS[0][1])
    expect(found.body.results[0].snippet).toContain('**Paris**')
    // Vectors arrive in the background: the model loads (seconds), then embeds the queue.
    const deadline = Date.now() + 90_000
    let backlog = -1
    while (Date.now() < deadline) {
      backlog = await server.store.embeddingBacklog()
      if (backlog === 0) break
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(backlog, 'the embedding queue was not worked within 90 s').toBe(0)
    // A paraphrase sharing no word with the turn finds it.
    const semantic = await server.call(
      'GET',
      `/v1/search?q=${encodeURIComponent('plane trip got called off')}&mode=semantic`,
    )
    expect(semantic.status).toBe(200)
    expect(semantic.body.mode).toBe('semantic')
    expect(semantic.body.results[0].turn.userMessage).toBe(TURNS[0][1])
    expect(semantic.body.results[0].ranks).toEqual({ fulltext: null, semantic: 1 })
    // Default mode: hybrid now that vectors exist.
    const hybrid = await server.call('GET', '/v1/search?q=flight&limit=2')
    expect(hybrid.body.mode).toBe('hybrid')
    expect(hybrid.body.results).toHaveLength(2)
    expect(hybrid.body.results[0].turn.userMessage).toBe(TURNS[0][1])
    expect(hybrid.body.results[0].ranks.fulltext).toBe(1)
    const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text())
    expect(metrics).toMatch(/^robot_brain_embedding_backlog 0$/m)
  })

  it('POST /v1/search takes the same fields and a metadata containment filter', async () => {
    for (const mode of ['fulltext', 'semantic', 'hybrid']) {
      const r = await server.call('POST', '/v1/search', {
        body: { q: 'cat train', mode, metadata: { i: 3 }, sessionId: 'travel' },
      })
      expect(r.status, mode).toBe(200)
      expect(
        r.body.results.map((x: { turn: { userMessage: string } }) => x.turn.userMessage),
        mode,
      ).toEqual([TURNS[3][1]])
    }
  })

  it('answers 400 naming the field for bad input', async () => {
    const cases: Array<[string, string, unknown?]> = [
      ['/v1/search?q=x&limit=0', 'limit'],
      ['/v1/search?q=x&limit=101', 'limit'],
      ['/v1/search?q=x&mode=psychic', 'mode'],
      [`/v1/search?q=${'x'.repeat(2000)}`, 'q'],
      ['/v1/search?q=a%00b', 'q'],
      ['/v1/search', 'q'],
      ['/v1/search?q=x&from=yesterday', 'from'],
      ['/v1/search?q=x&sessionId=', 'sessionId'],
      ['/v1/sessions/travel/context?maxTokens=0', 'maxTokens'],
    ]
    for (const [path, field] of cases) {
      const r = await server.call('GET', path)
      expect(r.status, path.slice(0, 60)).toBe(400)
      expect(r.body.error.code).toBe('validation_failed')
      expect(r.body.error.message, path.slice(0, 60)).toContain(field)
    }
    const post = await server.call('POST', '/v1/search', { body: { q: 'x', metadata: 'web' } })
    expect(post.status).toBe(400)
    expect(post.body.error.message).toContain('metadata')
  })

  it('GET /v1/sessions/{id}/context: recent turns oldest first within the budget, relevant ones by query', async () => {
    const all = await server.call('GET', '/v1/sessions/travel/context')
    expect(all.status).toBe(200)
    expect(all.body.recent.map((t: { userMessage: string }) => t.userMessage)).toEqual([
      TURNS[0][1],
      TURNS[3][1],
    ])
    expect(all.body.relevant).toEqual([])
    expect(all.body.tokens).toBeGreaterThan(10)
    // A budget for one turn: the newest only.
    const one = await server.call('GET', `/v1/sessions/travel/context?maxTokens=${all.body.tokens - 1}`)
    expect(one.body.recent.map((t: { userMessage: string }) => t.userMessage)).toEqual([TURNS[3][1]])
    expect(one.body.tokens).toBeLessThan(all.body.tokens)
    const missing = await server.call('GET', '/v1/sessions/nobody/context')
    expect(missing.status).toBe(404)
  })
})
