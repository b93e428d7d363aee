// Fault (c): a TCP proxy in front of PostgreSQL behaves like Neon's proxy while a compute wakes up: it
// drops every connection, refuses new ones for 1 s (ECONNREFUSED), then for 2 s answers them with
// XX000 "Couldn't connect to compute node", then passes traffic again. Requests wait and succeed
// within the retry budget: not one fails, and every turn is stored exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendName, type FreshDatabase, freshDatabase, PG_PORT } from '../support/backend.js'
import { ensureBuilt } from '../support/build.mjs'
import {
  expectCleanExit,
  expectNoLossNoDuplicates,
  expectRetried,
  httpTarget,
  libraryTarget,
  runScenario,
  type ScenarioResult,
} from '../support/faults/scenario.js'
import { startTcpProxy, type TcpProxy } from '../support/faults/tcp-proxy.mjs'

const enabled = backendName() === 'pg'

describe.skipIf(!enabled)('fault (c): the compute wakes up behind a refusing proxy', () => {
  beforeAll(() => ensureBuilt(), 300_000) // serve runs from dist/: built once, never stale
  let db: FreshDatabase
  let proxy: TcpProxy

  beforeAll(async () => {
    db = await freshDatabase('fault_waking')
    proxy = await startTcpProxy({ target: { host: '127.0.0.1', port: PG_PORT } })
  })
  afterAll(async () => {
    await proxy?.close()
    await db?.drop()
  })

  async function wake(): Promise<void> {
    const before = proxy.stats()
    const started = Date.now()
    await proxy.wake({ refuseMs: 1000, wakingMs: 2000 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900)
    // The Neon-style error really was served to reconnecting clients.
    expect(proxy.stats().answeredWaking).toBeGreaterThan(before.answeredWaking)
  }

  function expectNoFailures(result: ScenarioResult): void {
    expect(result.report.errors, JSON.stringify(result.report.errors)).toEqual({})
    expect(result.report.unacknowledged).toBe(0)
  }

  it('through the library: requests wait and succeed, nothing lost or doubled', async () => {
    const { store, write, retries } = await libraryTarget({
      url: proxy.url(db.name),
      directUrl: db.ownerUrl,
      driver: 'pg',
    })
    try {
      const result = await runScenario({ prefix: 'lib-c', write, ownerUrl: db.ownerUrl, fault: wake })
      expectNoLossNoDuplicates(result)
      expectNoFailures(result)
      expectRetried(retries)
    } finally {
      await store.close()
    }
  })

  it('through the HTTP service: requests wait and succeed, serve never crashes', async () => {
    const { server, write } = await httpTarget({
      DATABASE_URL: proxy.url(db.name),
      DATABASE_URL_UNPOOLED: db.ownerUrl,
      DATABASE_DRIVER: 'pg',
    })
    try {
      const result = await runScenario({ prefix: 'http-c', write, ownerUrl: db.ownerUrl, fault: wake })
      expectNoLossNoDuplicates(result)
      expectNoFailures(result)
      await expectCleanExit(server)
    } finally {
      await server.stop('SIGKILL')
    }
  })
})
