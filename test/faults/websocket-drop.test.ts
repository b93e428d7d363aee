// Fault (e): the WebSocket proxy in front of PostgreSQL (the Neon serverless driver's path) drops
// every socket, three times, in the middle of a concurrent write load, through the library and
// through the HTTP service (DATABASE_DRIVER=neon).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backendName, type FreshDatabase, freshDatabase } from '../support/backend.js'
import { ensureBuilt } from '../support/build.mjs'
import {
  expectCleanExit,
  expectNoLossNoDuplicates,
  expectRetried,
  httpTarget,
  libraryTarget,
  runScenario,
} from '../support/faults/scenario.js'
import { startWsProxy, type WsProxy, wsProxyAddress } from '../support/ws-proxy.js'

const enabled = backendName() === 'pg'

describe.skipIf(!enabled)('fault (e): the WebSocket proxy drops its sockets (Neon driver)', () => {
  beforeAll(() => ensureBuilt(), 300_000) // serve runs from dist/: built once, never stale
  let db: FreshDatabase
  let proxy: WsProxy

  beforeAll(async () => {
    db = await freshDatabase('fault_ws')
    proxy = await startWsProxy({ port: 0 })
  })
  afterAll(async () => {
    await proxy?.close()
    await db?.drop()
  })

  async function dropSockets(): Promise<void> {
    let dropped = 0
    for (let i = 0; i < 3; i++) {
      dropped += proxy.dropAll()
      await new Promise((r) => setTimeout(r, 400))
    }
    expect(dropped).toBeGreaterThan(0)
  }

  it('through the library: every acknowledged turn stored once', async () => {
    const { store, write, retries } = await libraryTarget({
      url: db.ownerUrl,
      driver: 'neon',
      neon: { wsProxy: wsProxyAddress(proxy.port), secureWebSocket: false },
    })
    try {
      const result = await runScenario({ prefix: 'lib-e', write, ownerUrl: db.ownerUrl, fault: dropSockets })
      expectNoLossNoDuplicates(result)
      expectRetried(retries)
    } finally {
      await store.close()
    }
  })

  it('through the HTTP service: every acknowledged turn stored once, serve never crashes', async () => {
    const { server, write } = await httpTarget({
      DATABASE_URL: db.ownerUrl,
      DATABASE_DRIVER: 'neon',
      NEON_WS_PROXY: wsProxyAddress(proxy.port),
      NEON_WS_SECURE: 'false',
    })
    try {
      const result = await runScenario({ prefix: 'http-e', write, ownerUrl: db.ownerUrl, fault: dropSockets })
      expectNoLossNoDuplicates(result)
      await expectCleanExit(server)
    } finally {
      await server.stop('SIGKILL')
    }
  })
})
