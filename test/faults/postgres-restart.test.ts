// Fault (a): PostgreSQL restarted (fast shutdown: every session gets 57P01, then a second of
// refused connections) in the middle of a concurrent write load, through the library and through
// the HTTP service. The server restarted is a private cluster of this test, never the shared one.
import { afterAll, beforeAll, describe, it } from 'vitest'
import { backendName } from '../support/backend.js'
import { ensureBuilt } from '../support/build.mjs'
import { type PrivateCluster, startPrivateCluster } from '../support/faults/cluster.mjs'
import {
  createDatabase,
  expectCleanExit,
  expectNoLossNoDuplicates,
  expectRetried,
  httpTarget,
  libraryTarget,
  runScenario,
} from '../support/faults/scenario.js'

const enabled = backendName() === 'pg'

describe.skipIf(!enabled)('fault (a): PostgreSQL restarts under load', () => {
  beforeAll(() => ensureBuilt(), 300_000) // serve runs from dist/: built once, never stale
  let cluster: PrivateCluster
  let url: string

  beforeAll(async () => {
    cluster = await startPrivateCluster()
    url = await createDatabase(cluster.url(), 'faults_restart')
  })
  afterAll(async () => {
    await cluster?.destroy()
  })

  const restart = () => cluster.restart({ mode: 'fast', downMs: 1000 })

  it('through the library: every acknowledged turn stored once', async () => {
    const { store, write, retries } = await libraryTarget({ url, driver: 'pg' })
    try {
      const result = await runScenario({ prefix: 'lib-a', write, ownerUrl: url, fault: restart })
      expectNoLossNoDuplicates(result)
      expectRetried(retries)
    } finally {
      await store.close()
    }
  })

  it('through the HTTP service: every acknowledged turn stored once, serve never crashes', async () => {
    const { server, write } = await httpTarget({ DATABASE_URL: url, DATABASE_DRIVER: 'pg' })
    try {
      const result = await runScenario({ prefix: 'http-a', write, ownerUrl: url, fault: restart })
      expectNoLossNoDuplicates(result)
      await expectCleanExit(server)
    } finally {
      await server.stop('SIGKILL')
    }
  })
})
