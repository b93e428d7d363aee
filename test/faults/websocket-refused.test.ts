// Fault (g): the WebSocket endpoint refuses connections (a network blip, a proxy restart) under the
// Neon serverless driver. The driver rejects with a raw ErrorEvent (no code, not an Error); the store
// must classify it as a socket error, retry within its budget, and end either with the turn stored
// (the endpoint came back) or with its typed UnavailableError (it did not).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UnavailableError } from '../../src/errors.js'
import { openStore } from '../../src/store/store.js'
import { backendName, type FreshDatabase, freshDatabase, rawPg } from '../support/backend.js'
import { freePort } from '../support/faults/cluster.mjs'
import { startWsProxy, type WsProxy, wsProxyAddress } from '../support/ws-proxy.js'

const enabled = backendName() === 'pg' || backendName() === 'neon'

describe.skipIf(!enabled)('fault (g): the WebSocket endpoint refuses connections (Neon driver)', () => {
  let db: FreshDatabase

  beforeAll(async () => {
    db = await freshDatabase('fault_ws_refused')
    const migrator = await openStore({ url: db.ownerUrl })
    await migrator.migrate()
    await migrator.close()
  })
  afterAll(async () => {
    await db?.drop()
  })

  async function neonStore(port: number, budgetMs: number) {
    const store = await openStore({
      url: db.ownerUrl,
      driver: 'neon',
      neon: { wsProxy: wsProxyAddress(port), secureWebSocket: false },
      retry: { budgetMs, baseDelayMs: 50, maxDelayMs: 200 },
    })
    const reasons: string[] = []
    store.observeRetries({ onRetry: (_e, _n, _d, reason) => reasons.push(reason) })
    return { store, reasons }
  }

  async function storedTurns(sessionId: string): Promise<number> {
    const owner = await rawPg(db.ownerUrl)
    try {
      const { rows } = await owner.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM robot_brain.conversations WHERE session_id = $1',
        [sessionId],
      )
      return rows[0]?.n ?? -1
    } finally {
      await owner.end()
    }
  }

  it('refused for good: retried as a socket error within the budget, then UnavailableError', async () => {
    const { store, reasons } = await neonStore(await freePort(), 1_500)
    const started = Date.now()
    try {
      const err = await store
        .recordTurn({ sessionId: 'refused', robotPersonality: 'calm', userMessage: 'u', robotResponse: 'r' })
        .then(
          () => new Error('expected the write to fail'),
          (e: unknown) => e,
        )
      const elapsed = Date.now() - started
      expect(err).toBeInstanceOf(UnavailableError)
      expect((err as UnavailableError).status).toBe(503)
      expect((err as Error).message).toContain('ECONNREFUSED')
      const cause = (err as Error).cause as Error & { code?: string }
      expect(cause).toBeInstanceOf(Error)
      expect(cause.code).toBe('ECONNREFUSED')
      expect(reasons.length, `retries: ${reasons.join(',')}`).toBeGreaterThanOrEqual(2)
      expect(new Set(reasons)).toEqual(new Set(['socket']))
      expect(elapsed, 'gave up within the budget (plus one connect attempt)').toBeLessThan(1_500 + 1_000)
    } finally {
      await store.close()
    }
    expect(await storedTurns('refused')).toBe(0)
  })

  it('refused, then the endpoint comes back: the turn is stored once', async () => {
    const port = await freePort()
    const { store, reasons } = await neonStore(port, 15_000)
    let proxy: WsProxy | undefined
    try {
      const writing = store.recordTurn({
        sessionId: 'comes-back',
        robotPersonality: 'calm',
        userMessage: 'u',
        robotResponse: 'r',
      })
      // Wait until the refusal was felt (retried) before the endpoint returns.
      const deadline = Date.now() + 10_000
      while (reasons.length < 2) {
        if (Date.now() > deadline) throw new Error(`no retry within 10 s (retries: ${reasons.join(',')})`)
        await new Promise((r) => setTimeout(r, 20))
      }
      proxy = await startWsProxy({ port })
      const turn = await writing
      expect(turn.sessionId).toBe('comes-back')
      expect(new Set(reasons)).toEqual(new Set(['socket']))
    } finally {
      await store.close()
      await proxy?.close()
    }
    expect(await storedTurns('comes-back')).toBe(1)
  })
})
