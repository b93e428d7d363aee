// Finding 2: a stalled client blocked shutdown and accepted events were lost. With one stalled upload
// open, events accepted with 202 and then SIGTERM: serve exited 1 after 10 s and stored none of them.
// Now the stalled connection is closed after the grace period, the buffer is flushed whatever the
// connections do, and serve exits 0 with every 202 event stored.
import net from 'node:net'
import pg from 'pg'
import { uuidv7 } from 'uuidv7'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../../src/store/store.js'
import { backendName, type FreshDatabase, freshDatabase } from '../support/backend.js'
import { ensureBuilt } from '../support/build.mjs'
import { startServe } from '../support/faults/serve.mjs'

const enabled = backendName() === 'pg'

describe.skipIf(!enabled)('fault: SIGTERM with a stalled upload open', () => {
  beforeAll(() => ensureBuilt(), 300_000) // serve runs from dist/: built once, never stale
  let db: FreshDatabase
  beforeAll(async () => {
    db = await freshDatabase('fault_sigterm_stalled')
    const store = await openStore({ url: db.ownerUrl, driver: 'pg' })
    await store.migrate()
    await store.close()
  })
  afterAll(async () => {
    await db?.drop()
  })

  it('closes the stalled connection, stores every event answered 202, exits 0', async () => {
    const server = await startServe({
      env: {
        DATABASE_URL: db.ownerUrl,
        DATABASE_DRIVER: 'pg',
        // Accepted events stay in memory until the shutdown flush; the stalled upload outlives it.
        ROBOT_BRAIN_INTERACTION_BATCH: '5000',
        ROBOT_BRAIN_INTERACTION_FLUSH_MS: '60000',
        ROBOT_BRAIN_REQUEST_TIMEOUT_MS: '120000',
      },
    })
    const stalled = net.connect({ host: '127.0.0.1', port: server.port })
    stalled.on('error', () => {})
    const stalledClosed = new Promise<void>((resolve) => stalled.once('close', () => resolve()))
    try {
      await new Promise<void>((resolve) => stalled.once('connect', () => resolve()))
      stalled.write(
        'POST /v1/interactions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"events":[',
      )
      const acked: string[] = []
      for (let b = 0; b < 10; b++) {
        const events = Array.from({ length: 20 }, (_, i) => ({
          id: uuidv7(),
          robotId: 'stalled-bot',
          interactionType: 'wave',
          durationMs: i,
          success: true,
        }))
        const r = await server.request('POST', '/v1/interactions', { events })
        expect(r.status, JSON.stringify(r.body)).toBe(202)
        acked.push(...events.map((e) => e.id))
      }
      const t0 = Date.now()
      const exit = await server.stop('SIGTERM', 30_000)
      const tookMs = Date.now() - t0
      console.info(`[fault] serve with a stalled upload exited ${JSON.stringify(exit)} after ${tookMs} ms`)
      expect(exit, server.output().slice(-3000)).toEqual({ code: 0, signal: null })
      expect(tookMs).toBeLessThan(10_000)
      await stalledClosed

      const owner = new pg.Client({ connectionString: db.ownerUrl })
      await owner.connect()
      try {
        const { rows } = await owner.query<{ id: string }>(
          "SELECT id::text AS id FROM robot_brain.robot_interactions WHERE robot_id = 'stalled-bot'",
        )
        const stored = new Set(rows.map((r) => r.id))
        expect(acked.filter((id) => !stored.has(id))).toEqual([])
        expect(rows.length).toBe(acked.length)
      } finally {
        await owner.end()
      }
    } finally {
      stalled.destroy()
      await server.stop('SIGKILL')
    }
  }, 120_000)
})
