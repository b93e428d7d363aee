// GET /v1/analytics/* over real HTTP: figures of what was just written through the API (exact the
// moment the write is acknowledged), buckets, offsets in from/to, and 400s naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendName } from '../support/backend.js'
import { newId, OPEN_TIMEOUT_MS, type Reply, type Server, startServer } from './support.js'

function expect400(reply: Reply, field: string): void {
  expect(reply.status, reply.text).toBe(400)
  expect(reply.body.error.code).toBe('validation_failed')
  expect(reply.body.error.message).toContain(field)
}

describe(`HTTP analytics (${backendName()})`, () => {
  let server: Server
  beforeAll(async () => {
    server = await startServer('http_analytics')
    const turns = [
      ['s1', 'cheerful', 'hi', 'hello there', '2026-03-01T10:15:00Z'],
      ['s1', 'cheerful', 'how are you', 'fine', '2026-03-01T23:59:59Z'],
      ['s2', 'cheerful', 'yo', 'hey', '2026-03-02T00:00:00Z'],
      ['s2', 'stoic', 'why', 'because', '2026-03-02T08:00:00Z'],
    ]
    for (const [sid, robotPersonality, userMessage, robotResponse, createdAt] of turns) {
      const r = await server.call('POST', `/v1/sessions/${sid}/turns`, {
        body: { robotPersonality, userMessage, robotResponse, createdAt, id: newId() },
      })
      expect(r.status, r.text).toBe(201)
    }
    const events = [100, 200, 300, 400, 0].map((durationMs, i) => ({
      robotId: i < 3 ? 'r1' : 'r2',
      interactionType: 'wave',
      durationMs,
      success: i !== 1,
      id: newId(),
      createdAt: `2026-03-01T1${i}:00:00Z`,
    }))
    const r = await server.call('POST', '/v1/interactions', { body: { events } })
    expect(r.status, r.text).toBe(202)
    // Replayed: accepted again, counted once.
    expect((await server.call('POST', '/v1/interactions', { body: { events } })).status).toBe(202)
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  it('answers personality figures, per day when asked, the moment turns are stored', async () => {
    const r = await server.call(
      'GET',
      '/v1/analytics/personalities?from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z&bucket=day',
    )
    expect(r.status, r.text).toBe(200)
    expect(r.body).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      to: '2026-03-03T00:00:00.000Z',
      bucket: 'day',
      personalities: [
        {
          robotPersonality: 'cheerful',
          turns: 3,
          sessions: 2,
          avgUserMessageLength: (2 + 11 + 2) / 3,
          avgResponseLength: (11 + 4 + 3) / 3,
          buckets: [
            {
              start: '2026-03-01T00:00:00.000Z',
              turns: 2,
              sessions: 1,
              avgUserMessageLength: 6.5,
              avgResponseLength: 7.5,
            },
            {
              start: '2026-03-02T00:00:00.000Z',
              turns: 1,
              sessions: 1,
              avgUserMessageLength: 2,
              avgResponseLength: 3,
            },
          ],
        },
        {
          robotPersonality: 'stoic',
          turns: 1,
          sessions: 1,
          avgUserMessageLength: 3,
          avgResponseLength: 7,
          buckets: [
            {
              start: '2026-03-02T00:00:00.000Z',
              turns: 1,
              sessions: 1,
              avgUserMessageLength: 3,
              avgResponseLength: 7,
            },
          ],
        },
      ],
    })
  })

  it('reads from/to with any offset: a day in UTC-05:00 is not the UTC day', async () => {
    // 2026-03-01T00:00-05:00 .. 2026-03-02T00:00-05:00 = 05:00Z on the 1st .. 05:00Z on the 2nd.
    const q = new URLSearchParams({ from: '2026-03-01T00:00:00-05:00', to: '2026-03-02T00:00:00-05:00' })
    const r = await server.call('GET', `/v1/analytics/personalities?${q}`)
    expect(r.status, r.text).toBe(200)
    expect(
      r.body.personalities.map((p: { robotPersonality: string; turns: number }) => [
        p.robotPersonality,
        p.turns,
      ]),
    ).toEqual([['cheerful', 3]])
  })

  it('answers interaction figures by robot and by type, with percentiles and the latest failures', async () => {
    const r = await server.call(
      'GET',
      '/v1/analytics/interactions?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&groupBy=robotId&failures=5',
    )
    expect(r.status, r.text).toBe(200)
    const [r1, r2] = r.body.groups
    expect(r1).toMatchObject({ key: 'r1', count: 3, successes: 2, buckets: [] })
    expect(r1.successRate).toBeCloseTo(2 / 3, 12)
    expect(r1.durationMs.avg).toBe(200)
    expect(r1.durationMs.max).toBe(300)
    expect(Math.abs(r1.durationMs.p50 - 200)).toBeLessThanOrEqual(2)
    expect(Math.abs(r1.durationMs.p99 - 300)).toBeLessThanOrEqual(3)
    expect(r2).toMatchObject({ key: 'r2', count: 2, successes: 2, successRate: 1 })
    expect(r2.durationMs.p50).toBe(0)
    expect(r.body.latestFailures).toHaveLength(1)
    expect(r.body.latestFailures[0]).toMatchObject({
      robotId: 'r1',
      durationMs: 200,
      createdAt: '2026-03-01T11:00:00.000Z',
    })
    const byType = await server.call(
      'GET',
      '/v1/analytics/interactions?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&groupBy=interactionType&bucket=hour',
    )
    expect(byType.body.groups).toHaveLength(1)
    expect(byType.body.groups[0]).toMatchObject({ key: 'wave', count: 5 })
    expect(byType.body.groups[0].buckets.map((b: { start: string }) => b.start)).toEqual([
      '2026-03-01T10:00:00.000Z',
      '2026-03-01T11:00:00.000Z',
      '2026-03-01T12:00:00.000Z',
      '2026-03-01T13:00:00.000Z',
      '2026-03-01T14:00:00.000Z',
    ])
  })

  it('answers an empty range with no groups', async () => {
    const r = await server.call(
      'GET',
      '/v1/analytics/interactions?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z',
    )
    expect(r.status, r.text).toBe(200)
    expect(r.body.groups).toEqual([])
  })

  it('answers 400 naming the field for bad input', async () => {
    const base = '/v1/analytics'
    expect400(
      await server.call('GET', `${base}/personalities?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z`),
      'from',
    )
    expect400(await server.call('GET', `${base}/interactions?groupBy=robot`), 'groupBy')
    expect400(
      await server.call('GET', `${base}/interactions?from=2020-01-01T00:00:00Z&to=2025-06-01T00:00:00Z`),
      'to',
    )
    expect400(await server.call('GET', `${base}/personalities?bucket=year`), 'bucket')
    expect400(await server.call('GET', `${base}/personalities?from=last-tuesday`), 'from')
    expect400(await server.call('GET', `${base}/interactions?failures=1000`), 'failures')
    expect400(await server.call('GET', `${base}/interactions?colour=red`), 'colour')
  })
})
