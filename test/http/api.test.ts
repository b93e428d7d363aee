// The /v1 API over real HTTP: every route, the request rules of DESIGN.md, the error answers,
// and data surviving a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LIMITS } from '../../src/store/limits.js'
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
  expect(Object.keys(reply.body.error).sort()).toEqual(['code', 'message'])
  expect(reply.body.error.code).toBe(code)
  expect(reply.text).not.toMatch(/\bat .+\.(ts|js):\d+/) // no stack trace
  if (mentions) expect(reply.body.error.message).toContain(mentions)
}

describe(`HTTP API (${backendName()})`, () => {
  let server: Server
  beforeAll(async () => {
    server = await startServer('http_api')
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  describe('turns', () => {
    it('records a turn (201), answers a replayed id with 200 and the stored turn, counted once, and the id reused for other content with 409', async () => {
      const id = newId()
      const first = await server.call('POST', '/v1/sessions/s-replay/turns', {
        body: turn({ id, metadata: { channel: 'web' } }),
      })
      expect(first.status, first.text).toBe(201)
      expect(first.body).toMatchObject({
        id,
        sessionId: 's-replay',
        robotPersonality: 'cheerful',
        userMessage: 'hello robot',
        robotResponse: 'hello human',
        metadata: { channel: 'web' },
      })
      expect(Date.parse(first.body.createdAt)).not.toBeNaN()

      const again = await server.call('POST', '/v1/sessions/s-replay/turns', {
        body: turn({ id, metadata: { channel: 'web' } }),
      })
      expect(again.status, again.text).toBe(200)
      expect(again.body).toEqual(first.body)

      // The same idempotency key with other parameters is not a replay: 409, nothing changed.
      const reused = await server.call('POST', '/v1/sessions/s-replay/turns', {
        body: turn({ id, userMessage: 'a different text', metadata: { channel: 'web' } }),
      })
      expectError(reused, 409, 'conflict', 'userMessage')
      const otherMeta = await server.call('POST', '/v1/sessions/s-replay/turns', {
        body: turn({ id, metadata: { channel: 'sms' } }),
      })
      expectError(otherMeta, 409, 'conflict', 'metadata')
      const history = await server.call('GET', '/v1/sessions/s-replay/turns')
      expect(history.body.turns).toEqual([first.body])

      const session = await server.call('GET', '/v1/sessions/s-replay')
      expect(session.status).toBe(200)
      expect(session.body.messageCount).toBe(1)
    })

    it('makes an id when none is given', async () => {
      const a = await server.call('POST', '/v1/sessions/s-noid/turns', { body: turn() })
      const b = await server.call('POST', '/v1/sessions/s-noid/turns', { body: turn() })
      expect(a.status).toBe(201)
      expect(b.status).toBe(201)
      expect(a.body.id).not.toBe(b.body.id)
    })

    it('pages history newest first with nextCursor, null on the last page', async () => {
      const base = Date.parse('2026-01-10T10:00:00Z')
      for (let i = 0; i < 5; i++) {
        const r = await server.call('POST', '/v1/sessions/s-history/turns', {
          body: turn({ userMessage: `m${i}`, createdAt: new Date(base + i * 1000).toISOString() }),
        })
        expect(r.status, r.text).toBe(201)
      }
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const q: string = cursor ? `&before=${encodeURIComponent(cursor)}` : ''
        const page = await server.call('GET', `/v1/sessions/s-history/turns?limit=2${q}`)
        expect(page.status, page.text).toBe(200)
        seen.push(...page.body.turns.map((t: { userMessage: string }) => t.userMessage))
        cursor = page.body.nextCursor
        pages++
      } while (cursor && pages < 10)
      expect(seen).toEqual(['m4', 'm3', 'm2', 'm1', 'm0'])
      expect(pages).toBe(3)
    })

    it('answers an empty page for a session with no turns', async () => {
      const page = await server.call('GET', '/v1/sessions/nobody-here/turns')
      expect(page.status).toBe(200)
      expect(page.body).toEqual({ turns: [], nextCursor: null })
    })
  })

  describe('sessions', () => {
    it('reads, merges metadata into, lists and deletes a session', async () => {
      await server.call('POST', '/v1/sessions/s-life/turns', { body: turn() })
      await server.call('POST', '/v1/sessions/s-life/turns', { body: turn() })
      const got = await server.call('GET', '/v1/sessions/s-life')
      expect(got.status).toBe(200)
      expect(Object.keys(got.body).sort()).toEqual([
        'createdAt',
        'id',
        'lastActive',
        'messageCount',
        'userId',
        'userMetadata',
      ])
      expect(got.body).toMatchObject({ id: 's-life', messageCount: 2, userMetadata: {} })

      const p1 = await server.call('PATCH', '/v1/sessions/s-life', {
        body: { userMetadata: { name: 'Ada', lang: 'en' } },
      })
      expect(p1.status, p1.text).toBe(200)
      const p2 = await server.call('PATCH', '/v1/sessions/s-life', { body: { userMetadata: { lang: 'fr' } } })
      expect(p2.body.userMetadata).toEqual({ name: 'Ada', lang: 'fr' })

      const list = await server.call('GET', '/v1/sessions?limit=200')
      expect(list.status).toBe(200)
      expect(list.body.sessions.map((s: { id: string }) => s.id)).toContain('s-life')

      const del = await server.call('DELETE', '/v1/sessions/s-life')
      expect(del.status).toBe(204)
      expect(del.text).toBe('')
      expectError(await server.call('GET', '/v1/sessions/s-life'), 404, 'not_found')
      const turns = await server.call('GET', '/v1/sessions/s-life/turns')
      expect(turns.body.turns).toEqual([])
      expectError(await server.call('DELETE', '/v1/sessions/s-life'), 404, 'not_found')
      expectError(
        await server.call('PATCH', '/v1/sessions/s-life', { body: { userMetadata: {} } }),
        404,
        'not_found',
      )
    })

    it('pages the session list with cursor, and filters by activeSince', async () => {
      for (const id of ['pg-a', 'pg-b', 'pg-c']) {
        await server.call('POST', `/v1/sessions/${id}/turns`, {
          body: turn({ createdAt: '2030-01-01T00:00:00Z' }),
        })
      }
      const recent = await server.call('GET', '/v1/sessions?activeSince=2029-12-31T00:00:00Z&limit=2')
      expect(recent.status, recent.text).toBe(200)
      expect(recent.body.sessions).toHaveLength(2)
      expect(recent.body.nextCursor).toEqual(expect.any(String))
      const rest = await server.call(
        'GET',
        `/v1/sessions?activeSince=2029-12-31T00:00:00Z&limit=2&cursor=${encodeURIComponent(recent.body.nextCursor)}`,
      )
      expect(rest.body.sessions).toHaveLength(1)
      expect(rest.body.nextCursor).toBeNull()
      const ids = [...recent.body.sessions, ...rest.body.sessions].map((s: { id: string }) => s.id).sort()
      expect(ids).toEqual(['pg-a', 'pg-b', 'pg-c'])
    })
  })

  describe('interactions', () => {
    it('accepts a batch with 202 and stores a replayed id once', async () => {
      const id = newId()
      const events = [
        { robotId: 'r1', interactionType: 'wave', durationMs: 120, success: true, id },
        { robotId: 'r1', interactionType: 'talk', durationMs: 3000, success: false, metadata: { err: 'x' } },
      ]
      const r = await server.call('POST', '/v1/interactions', { body: { events } })
      expect(r.status, r.text).toBe(202)
      expect(r.body).toEqual({ accepted: 2 })
      const again = await server.call('POST', '/v1/interactions', { body: { events: [events[0]] } })
      expect(again.status).toBe(202)
      const { rows } = await server.store.transport.owner.query<{ n: number }>({
        text: 'SELECT count(*)::int AS n FROM robot_brain.robot_interactions WHERE id = $1',
        values: [id],
      })
      expect(rows[0]?.n).toBe(1)
    })

    it('takes 1 to 1000 events', async () => {
      const event = { robotId: 'r', interactionType: 't', durationMs: 1, success: true }
      expectError(
        await server.call('POST', '/v1/interactions', { body: { events: [] } }),
        400,
        'validation_failed',
        'body.events',
      )
      const many = Array.from({ length: LIMITS.eventsPerBatchMax + 1 }, () => event)
      expectError(
        await server.call('POST', '/v1/interactions', { body: { events: many } }),
        400,
        'validation_failed',
        'body.events',
      )
      const max = Array.from({ length: LIMITS.eventsPerBatchMax }, () => event)
      const ok = await server.call('POST', '/v1/interactions', { body: { events: max } })
      expect(ok.status, ok.text).toBe(202)
      expect(ok.body.accepted).toBe(LIMITS.eventsPerBatchMax)
    })

    it('names the event field at fault, and does not coerce types', async () => {
      const bad = await server.call('POST', '/v1/interactions', {
        body: {
          events: [
            { robotId: 'r', interactionType: 't', durationMs: 1, success: true },
            { robotId: 'r', interactionType: 't', durationMs: '5', success: true },
          ],
        },
      })
      expectError(bad, 400, 'validation_failed', 'body.events[1].durationMs')
      const unknown = await server.call('POST', '/v1/interactions', {
        body: {
          events: [{ robotId: 'r', interactionType: 't', durationMs: 1, success: true, colour: 'red' }],
        },
      })
      expectError(unknown, 400, 'validation_failed', 'body.events[0].colour')
    })
  })

  describe('request rules', () => {
    const post = (body: unknown, session = 's-rules') =>
      server.call('POST', `/v1/sessions/${session}/turns`, { body })

    it('rejects invalid JSON with 400', async () => {
      expectError(await post('{"robotPersonality": "x",'), 400, 'invalid_json')
      expectError(await post(''), 400, 'invalid_json')
    })

    it('rejects unknown fields, naming them', async () => {
      expectError(await post(turn({ sessionid: 'oops' })), 400, 'validation_failed', 'body.sessionid')
      expectError(
        await server.call('PATCH', '/v1/sessions/s-rules', { body: { userMetadata: {}, extra: 1 } }),
        400,
        'validation_failed',
        'body.extra',
      )
      expectError(
        await server.call('GET', '/v1/sessions?limt=5'),
        400,
        'validation_failed',
        'querystring.limt',
      )
    })

    it('rejects missing and wrongly typed fields, naming them', async () => {
      const { userMessage: _, ...missing } = turn()
      expectError(await post(missing), 400, 'validation_failed', 'body.userMessage')
      expectError(await post(turn({ robotResponse: 42 })), 400, 'validation_failed', 'body.robotResponse')
      expectError(await post(turn({ metadata: [1, 2] })), 400, 'validation_failed', 'body.metadata')
      expectError(await post(turn({ id: 'not-a-uuid' })), 400, 'validation_failed', 'body.id')
      expectError(await post(turn({ createdAt: 'yesterday' })), 400, 'validation_failed', 'body.createdAt')
      expectError(await post([turn()]), 400, 'validation_failed', 'body')
    })

    it('rejects a NUL character with 400 naming the field', async () => {
      expectError(
        await post(turn({ userMessage: 'a\u0000b' })),
        400,
        'validation_failed',
        'body.userMessage: must not contain the NUL character',
      )
      expectError(
        await post(turn({ robotPersonality: 'a\u0000' })),
        400,
        'validation_failed',
        'robotPersonality',
      )
      // Inside metadata the schema cannot see it; the store's check names the field.
      expectError(await post(turn({ metadata: { note: 'x\u0000y' } })), 400, 'validation_failed', 'metadata')
      expectError(await post(turn(), 'bad%00id'), 400, 'validation_failed', 'params.sessionId')
    })

    it('enforces the length limits of DESIGN.md', async () => {
      const sid = 's'.repeat(LIMITS.sessionIdMax)
      expect((await post(turn(), sid)).status).toBe(201)
      expectError(await post(turn(), `${sid}x`), 400, 'validation_failed', 'params.sessionId')
      expectError(
        await post(turn({ robotPersonality: 'p'.repeat(LIMITS.nameMax + 1) })),
        400,
        'validation_failed',
        'body.robotPersonality',
      )
      expectError(
        await post(turn({ robotPersonality: '' })),
        400,
        'validation_failed',
        'body.robotPersonality',
      )
      expectError(
        await post(turn({ robotPersonality: 'tab\there' })),
        400,
        'validation_failed',
        'control characters',
      )
      // 100,000 characters (astral ones count once, as PostgreSQL counts them) pass; one more fails.
      const longest = '😀'.repeat(LIMITS.messageMax)
      expect((await post(turn({ userMessage: longest }))).status).toBe(201)
      expectError(
        await post(turn({ robotResponse: `${longest}x` })),
        400,
        'validation_failed',
        'body.robotResponse',
      )
      const big = { blob: 'x'.repeat(LIMITS.metadataBytes) }
      expectError(await post(turn({ metadata: big })), 400, 'validation_failed', 'metadata')
    })

    it('checks query parameters', async () => {
      expectError(
        await server.call('GET', '/v1/sessions/s-rules/turns?limit=0'),
        400,
        'validation_failed',
        'querystring.limit',
      )
      expectError(
        await server.call('GET', `/v1/sessions/s-rules/turns?limit=${LIMITS.historyLimitMax + 1}`),
        400,
        'validation_failed',
        'querystring.limit',
      )
      expectError(
        await server.call('GET', '/v1/sessions/s-rules/turns?before=garbage'),
        400,
        'validation_failed',
        'before',
      )
      expectError(
        await server.call('GET', '/v1/sessions?activeSince=soon'),
        400,
        'validation_failed',
        'querystring.activeSince',
      )
    })

    it('answers 413 for a body over 1 MiB', async () => {
      const huge = turn({ userMessage: 'x'.repeat(LIMITS.bodyBytes) })
      expectError(await post(huge), 413, 'payload_too_large')
    })

    it('answers 415 naming the content type for a body that is not JSON', async () => {
      for (const contentType of ['application/x-www-form-urlencoded', 'text/plain']) {
        const r = await server.call('POST', '/v1/sessions/s-plain/turns', {
          body: JSON.stringify(turn()),
          headers: { 'content-type': contentType },
        })
        expectError(r, 415, 'unsupported_media_type')
        expect((r.body as { error: { message: string } }).error.message).toMatch(/Content-Type/)
      }
      const put = await server.call('PUT', '/v1/sessions/s-plain', {
        body: '{}',
        headers: { 'content-type': 'text/plain' },
      })
      expectError(put, 415, 'unsupported_media_type')
      expectError(await server.call('GET', '/v1/sessions/s-plain'), 404, 'not_found')
    })

    it('answers 404 with a JSON error for unknown routes', async () => {
      expectError(await server.call('GET', '/v1/nothing'), 404, 'not_found')
      expectError(await server.call('GET', '/nothing/at/all'), 404, 'not_found')
    })

    it('checks search parameters by the schema', async () => {
      expectError(await server.call('GET', '/v1/search?q=x&mode=psychic'), 400, 'validation_failed', 'mode')
    })

    it('gives every response a request id, echoing a sane one from the client', async () => {
      const mine = await server.call('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } })
      expect(mine.headers.get('x-request-id')).toBe('abc-123')
      const made = await server.call('GET', '/healthz', { headers: { 'x-request-id': 'bad id!' } })
      expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    })
  })

  it(
    'keeps the data across a restart (app and store closed, database reopened)',
    async () => {
      const id = newId()
      const created = await server.call('POST', '/v1/sessions/s-restart/turns', { body: turn({ id }) })
      expect(created.status).toBe(201)
      await server.restart()
      const page = await server.call('GET', '/v1/sessions/s-restart/turns')
      expect(page.status).toBe(200)
      expect(page.body.turns).toEqual([created.body])
    },
    OPEN_TIMEOUT_MS,
  )
})
