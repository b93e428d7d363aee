// Crafted cursors over HTTP: 400 naming the parameter, never a 500 from the database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendName } from '../support/backend.js'
import { craftedCursors } from '../support/cursors.js'
import { OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

const turn = { robotPersonality: 'cheerful', userMessage: 'hello robot', robotResponse: 'hello human' }

describe(`HTTP crafted cursors (${backendName()})`, () => {
  let server: Server
  beforeAll(async () => {
    server = await startServer('http_cursors')
    const r = await server.call('POST', '/v1/sessions/c-1/turns', { body: turn })
    expect(r.status, r.text).toBe(201)
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  for (const [name, cursor] of Object.entries(craftedCursors())) {
    it(`${name}: 400 naming before / cursor`, async () => {
      const q = encodeURIComponent(cursor)
      for (const [path, field] of [
        [`/v1/sessions/c-1/turns?before=${q}`, 'before'],
        [`/v1/sessions?cursor=${q}`, 'cursor'],
      ] as const) {
        const reply = await server.call('GET', path)
        expect(reply.status, `${path}: ${reply.text}`).toBe(400)
        expect(reply.body.error.code).toBe('validation_failed')
        expect(reply.body.error.message).toContain(field)
        expect(reply.text).not.toMatch(/\bat .+\.(ts|js):\d+/)
      }
    })
  }

  it('pages the session list past a session id of 100 four-byte characters', async () => {
    const wide = '😀'.repeat(100)
    for (const [id, at] of [
      [wide, '2031-02-01T00:00:00Z'],
      ['c-older', '2031-01-01T00:00:00Z'],
    ]) {
      const r = await server.call('POST', `/v1/sessions/${encodeURIComponent(id as string)}/turns`, {
        body: { ...turn, createdAt: at },
      })
      expect(r.status, r.text).toBe(201)
    }
    const since = 'activeSince=2030-12-31T00:00:00Z'
    const first = await server.call('GET', `/v1/sessions?${since}&limit=1`)
    expect(first.body.sessions.map((s: { id: string }) => s.id)).toEqual([wide])
    const next = await server.call(
      'GET',
      `/v1/sessions?${since}&limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`,
    )
    expect(next.status, next.text).toBe(200)
    expect(next.body.sessions.map((s: { id: string }) => s.id)).toEqual(['c-older'])
  })
})
