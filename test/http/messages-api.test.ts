// The chat-oriented routes over real HTTP: PUT a session with userId and list by user, pending turns
// completed by PATCH, DELETE one turn, history oldest first, chat messages, and their error answers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendName } from '../support/backend.js'
import { newId, OPEN_TIMEOUT_MS, type Reply, type Server, startServer } from './support.js'

const turn = (extra: Record<string, unknown> = {}) => ({
  robotPersonality: 'cheerful',
  userMessage: 'hello robot',
  robotResponse: 'hello human',
  ...extra,
})

function expectError(reply: Reply, status: number, code: string, mentions?: string): void {
  expect(reply.status, reply.text).toBe(status)
  expect(Object.keys(reply.body)).toEqual(['error'])
  expect(reply.body.error.code).toBe(code)
  expect(reply.text).not.toMatch(/\bat .+\.(ts|js):\d+/)
  if (mentions) expect(reply.body.error.message).toContain(mentions)
}

describe(`HTTP chat messages API (${backendName()})`, () => {
  let server: Server
  beforeAll(async () => {
    server = await startServer('http_messages')
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  it('PUT creates a session before its first turn (201), then updates it (200); GET lists by userId', async () => {
    const created = await server.call('PUT', '/v1/sessions/h-put', {
      body: { userId: 'user-ada', userMetadata: { plan: 'pro' } },
    })
    expect(created.status, created.text).toBe(201)
    expect(created.body).toMatchObject({
      id: 'h-put',
      userId: 'user-ada',
      userMetadata: { plan: 'pro' },
      messageCount: 0,
    })
    const replaced = await server.call('PUT', '/v1/sessions/h-put', {
      body: { userMetadata: { lang: 'fr' } },
    })
    expect(replaced.status, replaced.text).toBe(200)
    expect(replaced.body).toMatchObject({ userId: 'user-ada', userMetadata: { lang: 'fr' } })
    expect((await server.call('PUT', '/v1/sessions/h-put-empty', { body: {} })).status).toBe(201)

    const r = await server.call('POST', '/v1/sessions/h-put/turns', { body: turn() })
    expect(r.status, r.text).toBe(201)
    const other = await server.call('POST', '/v1/sessions/h-put-bob/turns', {
      body: turn({ userId: 'user-bob' }),
    })
    expect(other.status, other.text).toBe(201)

    const ada = await server.call('GET', '/v1/sessions?userId=user-ada')
    expect(ada.status, ada.text).toBe(200)
    expect(ada.body.sessions.map((s: { id: string }) => s.id)).toEqual(['h-put'])
    expect(ada.body.sessions[0]).toMatchObject({ messageCount: 1, userId: 'user-ada' })
    const bob = await server.call('GET', '/v1/sessions?userId=user-bob&limit=5')
    expect(bob.body.sessions.map((s: { id: string }) => s.id)).toEqual(['h-put-bob'])

    // PATCH sets the user (and merges metadata) too.
    const patched = await server.call('PATCH', '/v1/sessions/h-put-bob', {
      body: { userId: 'user-ada', userMetadata: { x: 1 } },
    })
    expect(patched.status, patched.text).toBe(200)
    expect(patched.body).toMatchObject({ userId: 'user-ada', userMetadata: { x: 1 }, messageCount: 1 })
    expect((await server.call('GET', '/v1/sessions?userId=user-ada')).body.sessions).toHaveLength(2)

    expectError(
      await server.call('PUT', '/v1/sessions/h-put', { body: { userId: '' } }),
      400,
      'validation_failed',
      'body.userId',
    )
    expectError(
      await server.call('PUT', '/v1/sessions/h-put', { body: { metadata: {} } }),
      400,
      'validation_failed',
      'body.metadata',
    )
    expectError(await server.call('PATCH', '/v1/sessions/h-put', { body: {} }), 400, 'validation_failed')
    expectError(
      await server.call('PATCH', '/v1/sessions/h-none', { body: { userId: 'u' } }),
      404,
      'not_found',
    )
    expectError(
      await server.call('GET', `/v1/sessions?userId=${'u'.repeat(101)}`),
      400,
      'validation_failed',
      'userId',
    )
  })

  it('POST without robotResponse stores a pending turn; PATCH adds the answer, counted once; 409 for another', async () => {
    const id = newId()
    const pending = await server.call('POST', '/v1/sessions/h-stream/turns', {
      body: {
        robotPersonality: 'cheerful',
        userMessage: 'tell me a story',
        id,
        metadata: { channel: 'web' },
      },
    })
    expect(pending.status, pending.text).toBe(201)
    expect(pending.body.robotResponse).toBeNull()

    const done = await server.call('PATCH', `/v1/sessions/h-stream/turns/${id}`, {
      body: { robotResponse: 'Once upon a time…', metadata: { model: 'm1' } },
    })
    expect(done.status, done.text).toBe(200)
    expect(done.body).toEqual({
      ...pending.body,
      robotResponse: 'Once upon a time…',
      metadata: { channel: 'web', model: 'm1' },
    })
    const again = await server.call('PATCH', `/v1/sessions/h-stream/turns/${id}`, {
      body: { robotResponse: 'Once upon a time…' },
    })
    expect(again.status, again.text).toBe(200)
    expect(again.body).toEqual(done.body)
    expectError(
      await server.call('PATCH', `/v1/sessions/h-stream/turns/${id}`, {
        body: { robotResponse: 'Another story' },
      }),
      409,
      'conflict',
    )
    expect((await server.call('GET', '/v1/sessions/h-stream')).body.messageCount).toBe(1)

    // A replay of the original POST matches the turn, now answered.
    const replay = await server.call('POST', '/v1/sessions/h-stream/turns', {
      body: {
        robotPersonality: 'cheerful',
        userMessage: 'tell me a story',
        id,
        metadata: { channel: 'web' },
      },
    })
    expect(replay.status, replay.text).toBe(200)
    expect(replay.body).toEqual(done.body)

    expectError(
      await server.call('PATCH', `/v1/sessions/h-stream/turns/${newId()}`, { body: { robotResponse: 'x' } }),
      404,
      'not_found',
    )
    expectError(
      await server.call('PATCH', '/v1/sessions/h-stream/turns/not-a-uuid', { body: { robotResponse: 'x' } }),
      400,
      'validation_failed',
      'params.turnId',
    )
    expectError(
      await server.call('PATCH', `/v1/sessions/h-stream/turns/${id}`, {
        body: { robotResponse: 'x', extra: 1 },
      }),
      400,
      'validation_failed',
      'body.extra',
    )
    expectError(
      await server.call('PATCH', `/v1/sessions/h-stream/turns/${id}`, { body: {} }),
      400,
      'validation_failed',
      'body.robotResponse',
    )
  })

  it('DELETE one turn answers 204 and keeps messageCount exact; again 404', async () => {
    const a = await server.call('POST', '/v1/sessions/h-del/turns', { body: turn() })
    const b = await server.call('POST', '/v1/sessions/h-del/turns', { body: turn() })
    const del = await server.call('DELETE', `/v1/sessions/h-del/turns/${a.body.id}`)
    expect(del.status, del.text).toBe(204)
    expect(del.text).toBe('')
    expect((await server.call('GET', '/v1/sessions/h-del')).body.messageCount).toBe(1)
    expect(
      (await server.call('GET', '/v1/sessions/h-del/turns')).body.turns.map((x: { id: string }) => x.id),
    ).toEqual([b.body.id])
    expectError(await server.call('DELETE', `/v1/sessions/h-del/turns/${a.body.id}`), 404, 'not_found')
    expect((await server.call('GET', '/v1/sessions/h-del')).body.messageCount).toBe(1)
  })

  it('GET turns?order=asc pages oldest first with after', async () => {
    const base = Date.parse('2026-01-10T10:00:00Z')
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = await server.call('POST', '/v1/sessions/h-asc/turns', {
        body: turn({ userMessage: `m${i}`, createdAt: new Date(base + i * 1000).toISOString() }),
      })
      ids.push(r.body.id)
    }
    const seen: string[] = []
    let after: string | null = null
    do {
      const q: string = after ? `&after=${after}` : ''
      const page = await server.call('GET', `/v1/sessions/h-asc/turns?order=asc&limit=2${q}`)
      expect(page.status, page.text).toBe(200)
      seen.push(...page.body.turns.map((x: { id: string }) => x.id))
      after = page.body.nextCursor
      expect(seen.length, 'paging did not end').toBeLessThanOrEqual(5)
    } while (after)
    expect(seen).toEqual(ids)
    expectError(
      await server.call('GET', '/v1/sessions/h-asc/turns?order=sideways'),
      400,
      'validation_failed',
      'order',
    )
    const first = await server.call('GET', '/v1/sessions/h-asc/turns?limit=1')
    expectError(
      await server.call('GET', `/v1/sessions/h-asc/turns?order=asc&before=${first.body.nextCursor}`),
      400,
      'validation_failed',
      'before',
    )
  })

  it('GET messages gives chat messages oldest first, within limit (turns) and maxTokens', async () => {
    const base = Date.parse('2026-01-11T10:00:00Z')
    const turns = []
    for (let i = 0; i < 3; i++) {
      const r = await server.call('POST', '/v1/sessions/h-msg/turns', {
        body: turn({
          userMessage: `question ${i}`,
          robotResponse: i === 2 ? null : `answer ${i}`,
          createdAt: new Date(base + i * 1000).toISOString(),
        }),
      })
      expect(r.status, r.text).toBe(201)
      turns.push(r.body)
    }
    const all = await server.call('GET', '/v1/sessions/h-msg/messages')
    expect(all.status, all.text).toBe(200)
    expect(all.body.nextCursor).toBeNull()
    expect(all.body.messages).toEqual([
      { role: 'user', content: 'question 0', turnId: turns[0].id, createdAt: turns[0].createdAt },
      { role: 'assistant', content: 'answer 0', turnId: turns[0].id, createdAt: turns[0].createdAt },
      { role: 'user', content: 'question 1', turnId: turns[1].id, createdAt: turns[1].createdAt },
      { role: 'assistant', content: 'answer 1', turnId: turns[1].id, createdAt: turns[1].createdAt },
      { role: 'user', content: 'question 2', turnId: turns[2].id, createdAt: turns[2].createdAt },
    ])
    const last = await server.call('GET', '/v1/sessions/h-msg/messages?limit=2')
    expect(last.body.messages.map((m: { content: string }) => m.content)).toEqual([
      'question 1',
      'answer 1',
      'question 2',
    ])
    const older = await server.call(
      'GET',
      `/v1/sessions/h-msg/messages?limit=2&before=${last.body.nextCursor}`,
    )
    expect(older.body).toEqual({ messages: all.body.messages.slice(0, 2), nextCursor: null })
    // 'question 2' costs 3 + 4 tokens, turn 1 (3 + 4) + (3 + 4), turn 0 as much: 21 fits the two newest.
    const budget = await server.call('GET', '/v1/sessions/h-msg/messages?maxTokens=21')
    expect(budget.body.messages.map((m: { content: string }) => m.content)).toEqual([
      'question 1',
      'answer 1',
      'question 2',
    ])
    expect(budget.body.nextCursor).not.toBeNull()
    expectError(
      await server.call('GET', '/v1/sessions/h-msg/messages?maxTokens=0'),
      400,
      'validation_failed',
      'maxTokens',
    )
    expectError(
      await server.call('GET', '/v1/sessions/h-msg/messages?limit=500'),
      400,
      'validation_failed',
      'limit',
    )
    expect((await server.call('GET', '/v1/sessions/h-nobody/messages')).body).toEqual({
      messages: [],
      nextCursor: null,
    })
  })

  it('documents every new route in the OpenAPI document', async () => {
    const doc = (await server.call('GET', '/openapi.json')).body
    expect(Object.keys(doc.paths['/v1/sessions/{sessionId}'])).toEqual(
      expect.arrayContaining(['put', 'patch']),
    )
    expect(Object.keys(doc.paths['/v1/sessions/{sessionId}/turns/{turnId}']).sort()).toEqual([
      'delete',
      'patch',
    ])
    expect(doc.paths['/v1/sessions/{sessionId}/messages'].get.responses['200']).toBeTruthy()
    const post = doc.paths['/v1/sessions/{sessionId}/turns'].post
    expect(post.requestBody.content['application/json'].schema.required).not.toContain('robotResponse')
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['409', '415']))
  })
})
