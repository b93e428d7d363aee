// Fault (b): every application connection killed with pg_terminate_backend in the middle of a
// concurrent write load (three times), through the library and through the HTTP service. Only the
// backends of this test's own database are terminated.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ADMIN_URL, backendName, type FreshDatabase, freshDatabase } from '../support/backend.js'
import { ensureBuilt } from '../support/build.mjs'
import {
  expectCleanExit,
  expectNoLossNoDuplicates,
  expectRetried,
  httpTarget,
  libraryTarget,
  runScenario,
} from '../support/faults/scenario.js'

const enabled = backendName() === 'pg'

describe.skipIf(!enabled)('fault (b): pg_terminate_backend of every app connection', () => {
  beforeAll(() => ensureBuilt(), 300_000) // serve runs from dist/: built once, never stale
  let db: FreshDatabase
  let admin: pg.Client

  beforeAll(async () => {
    db = await freshDatabase('fault_terminate')
    admin = new pg.Client({ connectionString: ADMIN_URL })
    await admin.connect()
  })
  afterAll(async () => {
    await admin?.end()
    await db?.drop()
  })

  /** Terminates every backend of our database but the admin's, three times, 300 ms apart. */
  async function killAll(): Promise<void> {
    let killed = 0
    for (let i = 0; i < 3; i++) {
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
         FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
        [db.name],
      )
      killed += rows[0]?.n ?? 0
      await new Promise((r) => setTimeout(r, 300))
    }
    expect(killed).toBeGreaterThan(0)
  }

  it('through the library: every acknowledged turn stored once', async () => {
    const { store, write, retries } = await libraryTarget({ url: db.ownerUrl, driver: 'pg' })
    try {
      const result = await runScenario({ prefix: 'lib-b', write, ownerUrl: db.ownerUrl, fault: killAll })
      expectNoLossNoDuplicates(result)
      expectRetried(retries)
    } finally {
      await store.close()
    }
  })

  it('through the HTTP service: every acknowledged turn stored once, serve never crashes', async () => {
    const { server, write } = await httpTarget({ DATABASE_URL: db.ownerUrl, DATABASE_DRIVER: 'pg' })
    try {
      const result = await runScenario({ prefix: 'http-b', write, ownerUrl: db.ownerUrl, fault: killAll })
      expectNoLossNoDuplicates(result)
      await expectCleanExit(server)
    } finally {
      await server.stop('SIGKILL')
    }
  })
})
