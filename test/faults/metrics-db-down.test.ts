// /metrics on a keyless server while the database cannot be reached. Whether /metrics is open depends
// on whether API keys exist, which only the database knows: with the database gone the answer is a
// 503 with Retry-After and a generic reason (never 200 by default, never a 500, never the URL's password),
// and /metrics opens again once the database is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/server/app.js'
import { openStore, type Store } from '../../src/store/store.js'
import { backendName, type FreshDatabase, freshDatabase, PG_PORT } from '../support/backend.js'
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.mjs'

describe.skipIf(backendName() !== 'pg')('/metrics on a keyless server with the database down', () => {
  let db: FreshDatabase
  let proxy: TcpProxy
  let store: Store
  let app: Awaited<ReturnType<typeof buildApp>>

  beforeAll(async () => {
    db = await freshDatabase('fault_metrics_down')
    proxy = await startTcpProxy({ target: { host: '127.0.0.1', port: PG_PORT } })
    // A password in the URL that must never be echoed (trust auth ignores it).
    const url = proxy.url(db.name).replace('postgres@', 'postgres:secret-pw-metrics@')
    store = await openStore({ url, directUrl: db.ownerUrl, driver: 'pg', retry: { budgetMs: 1_500 } })
    store.observePoolErrors(() => {})
    await store.migrate()
    app = await buildApp({ store, logger: false, allowAnonymous: true, authCacheMs: 0 })
  }, 120_000)
  afterAll(async () => {
    await app?.close()
    await store?.close().catch(() => {})
    await proxy?.close().catch(() => {})
    await db?.drop()
  })

  it('answers 503 with Retry-After while the database is unreachable, and 200 once it is back', async () => {
    const up = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
    expect(up.statusCode, up.body).toBe(200)

    // Refuse every connection for longer than the store's retry budget.
    const outage = proxy.wake({ refuseMs: 6_000, wakingMs: 0 })
    await new Promise((r) => setTimeout(r, 200))
    const down = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
    expect(down.statusCode, down.body).toBe(503)
    expect(Number(down.headers['retry-after'])).toBeGreaterThanOrEqual(1)
    expect(down.json().error.message).toMatch(/temporarily unavailable; retry after \d+ s/)
    expect(down.body).not.toContain('secret-pw-metrics')
    await outage

    const back = await app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
    expect(back.statusCode, back.body).toBe(200)
  }, 60_000)
})
