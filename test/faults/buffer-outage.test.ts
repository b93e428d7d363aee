// The interaction buffer while the database is away for longer than the store's retry budget: the
// batches that failed stay in memory, in order, and are written once it is back. Nothing is lost,
// nothing doubled, and the failure is reported (onError, stats) rather than swallowed.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../src/store/store.js'
import { backendName, type FreshDatabase, freshDatabase, PG_PORT } from '../support/backend.js'
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.mjs'

describe.skipIf(backendName() !== 'pg')('interaction buffer through an outage longer than the budget', () => {
  let db: FreshDatabase
  let proxy: TcpProxy
  let store: Store

  beforeAll(async () => {
    db = await freshDatabase('buffer_outage')
    proxy = await startTcpProxy({ target: { host: '127.0.0.1', port: PG_PORT } })
    store = await openStore({
      url: proxy.url(db.name),
      directUrl: db.ownerUrl,
      driver: 'pg',
      retry: { budgetMs: 300, baseDelayMs: 20, maxDelayMs: 100 },
    })
    await store.migrate()
  })
  afterAll(async () => {
    await store?.close()
    await proxy?.close()
    await db?.drop()
  })

  it('keeps failed batches and writes them when the database is back', async () => {
    const failures: boolean[] = []
    const buffer = store.interactionBuffer({
      flushDelayMs: 10,
      maxBatch: 50,
      retryPauseMs: 100,
      onError: (_err, info) => failures.push(info.willRetry),
    })
    await buffer.add([{ robotId: 'warmup', interactionType: 'greet', durationMs: 1, success: true }])
    await buffer.flush()

    const outage = proxy.wake({ refuseMs: 1_500 })
    const ids: string[] = []
    for (let i = 0; i < 10; i++) {
      const events = Array.from({ length: 30 }, (_, j) => ({
        id: crypto.randomUUID(),
        createdAt: new Date(),
        robotId: 'outage-bot',
        interactionType: 'wave',
        durationMs: j,
        success: true,
      }))
      ids.push(...events.map((e) => e.id))
      await buffer.add(events)
      await new Promise((r) => setTimeout(r, 50))
    }
    await outage
    await buffer.close()

    expect(failures.length).toBeGreaterThan(0)
    expect(failures.every((willRetry) => willRetry)).toBe(true)
    expect(buffer.stats()).toMatchObject({ pending: 0, written: 301, rejected: 0 })
    expect(buffer.stats().retriedBatches).toBeGreaterThan(0)

    const owner = new pg.Client({ connectionString: db.ownerUrl })
    await owner.connect()
    try {
      const { rows } = await owner.query<{ id: string; n: number }>(
        `SELECT id::text AS id, count(*)::int AS n FROM robot_brain.robot_interactions
         WHERE robot_id = 'outage-bot' GROUP BY id`,
      )
      expect(rows.length).toBe(300)
      expect(rows.every((r) => r.n === 1)).toBe(true)
      expect(new Set(rows.map((r) => r.id))).toEqual(new Set(ids))
    } finally {
      await owner.end()
    }
  })
})
