// Application sessions get their settings without a round trip: as startup parameters on a direct
// connection, from the login role's defaults behind a transaction-mode pooler.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backend, openTestStore, serverBackend, type TestStore } from '../support/store.js'

describe.runIf(serverBackend)(`application session settings (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    t = await openTestStore('session-settings')
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('plans the hot statements once and never compiles them on a direct connection, and leaves a pooler alone', async () => {
    await t.store.history('nobody')
    const client = await t.store.transport.app.connect()
    try {
      const { rows } = await client.query<{ plan_cache_mode: string; jit: string }>(
        `SELECT current_setting('plan_cache_mode') AS plan_cache_mode, current_setting('jit') AS jit`,
      )
      // Through PgBouncer startup options are not forwarded: the server defaults stay.
      expect(rows[0]?.plan_cache_mode).toBe(backend === 'pgbouncer' ? 'auto' : 'force_generic_plan')
      expect(rows[0]?.jit).toBe(backend === 'pgbouncer' ? 'on' : 'off')
    } finally {
      client.release()
    }
  })
})
