// Fault (d): PgBouncer (transaction pool mode) restarted in the middle of a concurrent write load,
// through the library and through the HTTP service. The application logs in through the pooler as a
// member of the database's runtime role (robot_brain_app_<database>), as in production; migrations go
// to the server directly. PgBouncer and PostgreSQL here are private to this test, never the shared ones.
import { afterAll, beforeAll, describe, it } from 'vitest'
import { backendName, TEST_APP_ROLE } from '../support/backend.js'
import { ensureBuilt } from '../support/build.mjs'
import { type PrivateCluster, startPrivateCluster } from '../support/faults/cluster.mjs'
import { type PrivatePgBouncer, startPrivatePgBouncer } from '../support/faults/pgbouncer.mjs'
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
const DB = 'faults_pgbouncer'

describe.skipIf(!enabled)('fault (d): PgBouncer restarts under load', () => {
  beforeAll(() => ensureBuilt(), 300_000) // serve runs from dist/: built once, never stale
  let cluster: PrivateCluster
  let bouncer: PrivatePgBouncer
  let ownerUrl: string

  beforeAll(async () => {
    cluster = await startPrivateCluster()
    ownerUrl = await createDatabase(cluster.url(), DB, TEST_APP_ROLE)
    bouncer = await startPrivatePgBouncer({ targetPort: cluster.port, users: ['postgres', TEST_APP_ROLE] })
  })
  afterAll(async () => {
    await bouncer?.destroy()
    await cluster?.destroy()
  })

  const restart = () => bouncer.restart({ downMs: 500 })

  it('through the library: every acknowledged turn stored once', async () => {
    const { store, write, retries } = await libraryTarget({
      url: bouncer.url(DB, TEST_APP_ROLE),
      directUrl: ownerUrl,
      driver: 'pg',
    })
    try {
      const result = await runScenario({ prefix: 'lib-d', write, ownerUrl, fault: restart })
      expectNoLossNoDuplicates(result)
      expectRetried(retries)
    } finally {
      await store.close()
    }
  })

  it('through the HTTP service: every acknowledged turn stored once, serve never crashes', async () => {
    const { server, write } = await httpTarget({
      DATABASE_URL: bouncer.url(DB, TEST_APP_ROLE),
      DATABASE_URL_UNPOOLED: ownerUrl,
      DATABASE_DRIVER: 'pg',
    })
    try {
      const result = await runScenario({ prefix: 'http-d', write, ownerUrl, fault: restart })
      expectNoLossNoDuplicates(result)
      await expectCleanExit(server)
    } finally {
      await server.stop('SIGKILL')
    }
  })
})
