// GET /v1/sessions filtered by robot personality (sessions with a turn of it), alone and with a user,
// paged with the cursor; a bad value is refused naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendName } from '../support/backend.js'
import { newId, OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

describe(`sessions by personality (${backendName()})`, () => {
  let server: Server

  beforeAll(async () => {
    server = await startServer('session_filters')
    // s1..s5: pirate in the odd ones, zen in all; s1 and s2 belong to ada.
    for (let i = 1; i <= 5; i++) {
      const sid = `s${i}`
      if (i <= 2) await server.call('PUT', `/v1/sessions/${sid}`, { body: { userId: 'ada' } })
      const personalities = i % 2 === 1 ? ['zen', 'pirate'] : ['zen']
      for (const robotPersonality of personalities) {
        const res = await server.call('POST', `/v1/sessions/${sid}/turns`, {
          body: { id: newId(), robotPersonality, userMessage: `hello ${i}`, robotResponse: 'hi' },
        })
        expect(res.status).toBe(201)
      }
    }
  }, OPEN_TIMEOUT_MS)

  afterAll(async () => {
    await server?.cleanup()
  })

  const ids = (body: { sessions: Array<{ id: string }> }) => body.sessions.map((s) => s.id)

  it('lists only sessions with a turn of the personality, newest first, page by page', async () => {
    const first = await server.call('GET', '/v1/sessions?robotPersonality=pirate&limit=2')
    expect(first.status).toBe(200)
    expect(ids(first.body)).toEqual(['s5', 's3'])
    const next = await server.call(
      'GET',
      `/v1/sessions?robotPersonality=pirate&limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`,
    )
    expect(ids(next.body)).toEqual(['s1'])
    expect(next.body.nextCursor).toBeNull()
    expect(ids((await server.call('GET', '/v1/sessions?robotPersonality=zen')).body)).toEqual([
      's5',
      's4',
      's3',
      's2',
      's1',
    ])
    expect(ids((await server.call('GET', '/v1/sessions?robotPersonality=noir')).body)).toEqual([])
  })

  it('combines with the user filter, and the library takes the same option', async () => {
    const res = await server.call('GET', '/v1/sessions?userId=ada&robotPersonality=pirate')
    expect(ids(res.body)).toEqual(['s1'])
    const lib = await server.store.tenant('default').listSessions({ userId: 'ada', robotPersonality: 'zen' })
    expect(ids(lib)).toEqual(['s2', 's1'])
  })

  it('refuses a bad personality naming the field', async () => {
    const res = await server.call('GET', `/v1/sessions?robotPersonality=${'x'.repeat(51)}`)
    expect(res.status).toBe(400)
    expect(res.body.error.message).toMatch(/robotPersonality/)
    await expect(server.store.tenant('default').listSessions({ robotPersonality: '' })).rejects.toThrow(
      /robotPersonality/,
    )
  })
})
