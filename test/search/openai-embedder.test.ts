// The OpenAI-compatible embedder against a local HTTP server that speaks POST /v1/embeddings: request
// shape, bearer key, dimensions learned, failures retried by the queue without the key in any error.
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { BuiltinEmbedder, embedderFromEnv, OpenAiEmbedder } from '../../src/search/embedders/index.js'
import { wordVector } from '../support/embedder.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const KEY = 'sk-test-secret-0123456789'

interface Seen {
  auth: string | undefined
  body: { model: string; input: string[]; dimensions?: number }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  let data = ''
  for await (const chunk of req) data += chunk
  return JSON.parse(data)
}

describe(`OpenAI-compatible embedder (${backend})`, () => {
  let server: Server
  let base = ''
  const seen: Seen[] = []
  let failing = false
  let t: TestStore | undefined

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      if (req.method !== 'POST' || req.url !== '/v1/embeddings') {
        res.writeHead(404).end()
        return
      }
      const body = (await readJson(req)) as Seen['body']
      seen.push({ auth: req.headers.authorization, body })
      if (failing) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"message":"overloaded"}}')
        return
      }
      // Answered out of order, as the API allows: the index says which input each vector is for.
      const data = body.input.map((text, index) => ({
        object: 'embedding',
        index,
        embedding: wordVector(text, 64),
      }))
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ object: 'list', model: body.model, data: data.reverse() }))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`
  })
  afterAll(async () => {
    await t?.cleanup()
    await new Promise((r) => server.close(r))
  })

  it('is chosen by EMBEDDINGS_URL; built-in otherwise, none with EMBEDDINGS=off; bad settings named', () => {
    expect(embedderFromEnv({ EMBEDDINGS_URL: base, EMBEDDINGS_MODEL: 'm' })).toBeInstanceOf(OpenAiEmbedder)
    expect(embedderFromEnv({})).toBeInstanceOf(BuiltinEmbedder)
    expect(embedderFromEnv({ EMBEDDINGS: 'off' })).toBeNull()
    expect(() => embedderFromEnv({ EMBEDDINGS_URL: base })).toThrow(/EMBEDDINGS_MODEL/)
    expect(() => embedderFromEnv({ EMBEDDINGS_URL: 'not a url', EMBEDDINGS_MODEL: 'm' })).toThrow(ConfigError)
    expect(() =>
      embedderFromEnv({ EMBEDDINGS_URL: base, EMBEDDINGS_MODEL: 'm', EMBEDDINGS_DIMENSIONS: 'wide' }),
    ).toThrow(/EMBEDDINGS_DIMENSIONS/)
  })

  it('sends the model, the inputs and the key; returns vectors in input order', async () => {
    const e = embedderFromEnv({
      EMBEDDINGS_URL: base,
      EMBEDDINGS_MODEL: 'nomic-embed-text',
      EMBEDDINGS_API_KEY: KEY,
    }) as OpenAiEmbedder
    expect(e.dimensions).toBe(0)
    const vectors = await e.embed(['first text', 'second text'])
    expect(vectors).toEqual([wordVector('first text', 64), wordVector('second text', 64)])
    expect(e.dimensions).toBe(64)
    expect(seen.at(-1)).toEqual({
      auth: `Bearer ${KEY}`,
      body: { model: 'nomic-embed-text', input: ['first text', 'second text'], encoding_format: 'float' },
    })
  })

  it('feeds the queue and semantic search; a failing endpoint is retried and never leaks the key', async () => {
    const embedder = new OpenAiEmbedder({ url: `${base}/embeddings`, model: 'remote-64', apiKey: KEY })
    t = await openTestStore('openai-embedder', { options: { embedder } })
    const store = t.store
    failing = true
    await store.recordTurn(turnInput('remote', 1, { userMessage: 'the violin concert was wonderful' }))
    const first = await store.embedPending()
    expect(first).toMatchObject({ embedded: 0, failed: 1 })
    const [entry] = await t.ownerQuery<{ last_error: string }>(
      'SELECT last_error FROM robot_brain.embedding_queue',
    )
    expect(entry?.last_error).toMatch(/answered 503/)
    expect(entry?.last_error).not.toContain(KEY)
    failing = false
    await t.ownerQuery('UPDATE robot_brain.embedding_queue SET next_attempt_at = now()')
    expect((await store.embedPending()).embedded).toBe(1)
    const { results } = await store.search({ query: 'violin concert', mode: 'semantic' })
    expect(results[0]?.turn.userMessage).toBe('the violin concert was wonderful')
    // An unreachable endpoint: the host is named, the key is not.
    const gone = new OpenAiEmbedder({
      url: 'http://127.0.0.1:9/v1',
      model: 'x',
      apiKey: KEY,
      timeoutMs: 2000,
    })
    const err = (await gone.embed(['x']).catch((e: unknown) => e)) as Error
    expect(err.message).toMatch(/127\.0\.0\.1:9 unreachable/)
    expect(err.message).not.toContain(KEY)
  })
})
