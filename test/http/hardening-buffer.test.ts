// Finding 8: one tenant could fill the shared event buffer and lock the others out (every request of
// tenant B got 503 while tenant A flooded). Now each tenant active lately holds at most its share of
// the buffer: A's flood is refused at its share and B's events keep being accepted.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeyStore } from '../../src/keys/keys.js'
import { buildApp } from '../../src/server/app.js'
import type { InteractionBuffer } from '../../src/store/interaction-buffer.js'
import { backendName } from '../support/backend.js'
import { OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

function events(n: number, robotId: string) {
  return {
    events: Array.from({ length: n }, (_, i) => ({
      robotId,
      interactionType: 'ping',
      durationMs: i,
      success: true,
    })),
  }
}

describe(`fair shares of the interaction buffer between tenants (${backendName()})`, () => {
  let server: Server
  let app: FastifyInstance
  let url: string
  let buffer: InteractionBuffer
  let keyA: string
  let keyB: string
  beforeAll(async () => {
    server = await startServer('http_buffer_share')
    const keys = new KeyStore(server.store.transport.owner)
    keyA = (await keys.create('tenant-a')).key
    keyB = (await keys.create('tenant-b')).key
    // Nothing is written before close(): what the buffer holds is exactly what was accepted.
    buffer = server.store.interactionBuffer({
      maxPending: 100,
      maxBatch: 1000,
      flushDelayMs: 60_000,
      whenFull: 'reject',
    })
    app = await buildApp({ store: server.store, logger: false, interactionBuffer: buffer, authCacheMs: 0 })
    url = await app.listen({ port: 0, host: '127.0.0.1' })
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await app?.close()
    await buffer?.close()
    await server?.cleanup()
  })

  const post = async (key: string, n: number, robotId: string) => {
    const res = await fetch(`${url}/v1/interactions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(events(n, robotId)),
    })
    const body = (await res.json()) as { error?: { message: string } }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body }
  }

  it("refuses a flooding tenant at its share while the other tenant's events are still accepted", async () => {
    // B is a steady client: it has sent events lately.
    expect((await post(keyB, 5, 'b-bot')).status).toBe(202)
    // A floods until refused.
    let acceptedA = 0
    let refusal: Awaited<ReturnType<typeof post>> | undefined
    for (let i = 0; i < 20 && !refusal; i++) {
      const r = await post(keyA, 10, 'a-bot')
      if (r.status === 202) acceptedA += 10
      else refusal = r
    }
    expect(refusal?.status).toBe(503)
    expect(refusal?.retryAfter).toMatch(/^\d+$/)
    expect(refusal?.body.error?.message).toMatch(/share of the interaction buffer/)
    // Two active tenants: A holds at most half of the 100 places.
    expect(acceptedA).toBe(50)

    // B is not locked out: its events are accepted up to its own share.
    let acceptedB = 5
    for (let i = 0; i < 4; i++) {
      const r = await post(keyB, 10, 'b-bot')
      expect(r.status, JSON.stringify(r.body)).toBe(202)
      acceptedB += 10
    }
    expect((await post(keyB, 10, 'b-bot')).status).toBe(503)
    expect(buffer.stats()).toMatchObject({ pending: acceptedA + acceptedB })
    expect(buffer.stats().shareRefusals).toBe(1)

    // Everything accepted is written, each under its own tenant.
    await buffer.flush()
    const { rows } = await server.store.transport.owner.query<{ tenant_id: string; n: number }>({
      text: `SELECT tenant_id, count(*)::int AS n FROM robot_brain.robot_interactions
             WHERE robot_id IN ('a-bot', 'b-bot') GROUP BY tenant_id ORDER BY tenant_id`,
    })
    expect(rows).toEqual([
      { tenant_id: 'tenant-a', n: acceptedA },
      { tenant_id: 'tenant-b', n: acceptedB },
    ])
  })

  it('lets a tenant alone use the whole buffer', async () => {
    const alone = server.store.interactionBuffer({ maxPending: 40, flushDelayMs: 60_000, whenFull: 'reject' })
    try {
      await alone.add(events(40, 'solo').events, 'tenant-solo')
      await expect(alone.add(events(1, 'solo').events, 'tenant-solo')).rejects.toThrow(/buffer is full/)
    } finally {
      await alone.close()
    }
  })
})
