// POST /v1/interactions through the buffered writer: 202 when accepted into the buffer, 503 with
// Retry-After when it is full (never a silent drop), and everything accepted is written on close.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/server/app.js'
import type { InteractionBuffer } from '../../src/store/interaction-buffer.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'

function body(n: number, robotId: string) {
  return {
    events: Array.from({ length: n }, (_, i) => ({
      robotId,
      interactionType: 'greet',
      durationMs: i,
      success: true,
    })),
  }
}

describe(`POST /v1/interactions with a full buffer (${backend})`, () => {
  let t: TestStore
  let app: FastifyInstance
  let buffer: InteractionBuffer

  beforeAll(async () => {
    t = await openTestStore('http_buffer')
    buffer = t.store.interactionBuffer({ maxPending: 40, flushDelayMs: 60_000, whenFull: 'reject' })
    app = await buildApp({ store: t.store, allowAnonymous: true, interactionBuffer: buffer })
  })
  afterAll(async () => {
    await app?.close()
    await t?.cleanup()
  })

  it('accepts up to the bound, then answers 503 with Retry-After, and writes all it accepted', async () => {
    const first = await app.inject({
      method: 'POST',
      url: '/v1/interactions',
      payload: body(40, 'full-http'),
    })
    expect(first.statusCode).toBe(202)
    expect(first.json()).toEqual({ accepted: 40 })

    const refused = await app.inject({
      method: 'POST',
      url: '/v1/interactions',
      payload: body(1, 'full-http'),
    })
    expect(refused.statusCode).toBe(503)
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(refused.json().error.code).toBe('unavailable')
    expect(refused.json().error.message).toMatch(/buffer is full/)

    // Invalid events still get a 400 naming the field, not a 503.
    const bad = body(2, 'full-http')
    ;(bad.events[1] as Record<string, unknown>).durationMs = -1
    const invalid = await app.inject({ method: 'POST', url: '/v1/interactions', payload: bad })
    expect(invalid.statusCode).toBe(400)
    expect(invalid.json().error.message).toMatch(/events\[1\]\.durationMs/)

    await buffer.close()
    const [row] = await t.ownerQuery<{ n: number }>(
      "SELECT count(*)::int AS n FROM robot_brain.robot_interactions WHERE robot_id = 'full-http'",
    )
    expect(row?.n).toBe(40)
  })
})
