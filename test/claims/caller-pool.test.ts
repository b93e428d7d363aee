// The seam for applications that already hold a pool: openStore({ pool, readPool }) takes a caller's
// pg.Pool (or, on the neon backend, a @neondatabase/serverless Pool), runs the store's queries on it
// under row-level security, and never ends it or leaves listeners on it; a privileged pool is refused
// (the store never changes the role of connections it does not own).
import { Pool as NeonPool } from '@neondatabase/serverless'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../../src/errors.js'
import { openStore } from '../../src/store/store.js'
import {
  configureNeonForTests,
  type FreshDatabase,
  PG_HOST,
  PG_PORT,
  TEST_APP_ROLE,
} from '../support/backend.js'
import { backend, freshTestDatabase, serverBackend, turnInput } from '../support/store.js'

/** The Neon driver's Pool has node-postgres' Pool interface. */
type AnyPool = pg.Pool

describe.runIf(serverBackend)(`openStore({ pool }) with the application's own pool (${backend})`, () => {
  let db: FreshDatabase
  const pools: AnyPool[] = []

  /** A pool as the application would make it, logging in as `url`'s role. */
  const appPool = (url: string): AnyPool => {
    const pool: AnyPool =
      backend === 'neon'
        ? (new NeonPool({ connectionString: url, max: 3 }) as unknown as pg.Pool)
        : new pg.Pool({ connectionString: url, max: 3 })
    // As an application must: an idle client's error (its backend ended when the test database is
    // dropped) is the pool owner's to handle, and the store removes its own listeners on close.
    pool.on('error', () => {})
    pools.push(pool)
    return pool
  }
  /** The app's login (a member of the runtime role): through PgBouncer on that backend. */
  const appUrl = () =>
    backend === 'pgbouncer' ? db.appUrl : `postgres://${TEST_APP_ROLE}@${PG_HOST}:${PG_PORT}/${db.name}`
  const driver = () => (backend === 'neon' ? 'neon' : 'pg') as 'neon' | 'pg'

  beforeAll(async () => {
    db = await freshTestDatabase('claims caller pool', true)
    if (db.neon) configureNeonForTests(db.neon)
    const setup = await openStore({ url: db.ownerUrl, driver: 'pg', embedder: null })
    await setup.migrate()
    await setup.close()
  })
  afterAll(async () => {
    for (const p of pools) await p.end().catch(() => {})
    await db?.drop()
  })

  it('runs the store on the given pools, under row-level security, and never ends them', async () => {
    const pool = appPool(appUrl())
    const readPool = appPool(appUrl())
    const listeners = () => [pool.listenerCount('error'), pool.listenerCount('connect')]
    const before = listeners()
    const store = await openStore({
      pool,
      readPool,
      directUrl: db.ownerUrl,
      driver: driver(),
      neon: db.neon,
      embedder: null,
      retry: { budgetMs: 5_000 },
    })
    try {
      // Migrations run on the store's own owner pool (the app login does not own the schema).
      expect((await store.migrate()).applied).toEqual([])
      await store.recordTurn(turnInput('mine', 1))
      expect((await store.history('mine')).turns.map((t) => t.userMessage)).toEqual([
        turnInput('mine', 1).userMessage,
      ])
      // Another tenant sees nothing: row-level security applies to the pool's login.
      expect((await store.tenant('other').sessionStats({ sessionId: 'mine' })).length).toBe(0)
      expect(store.transport.callerPool).toBe(true)
    } finally {
      await store.close()
    }
    // The caller's pools still work after close(), and carry no listener of the store's.
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    expect((await readPool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    expect(listeners()).toEqual(before)
    // The rows are really there, written through the caller's pool as its login.
    const check = appPool(db.ownerUrl)
    const { rows } = await check.query(
      "SELECT count(*)::int AS n FROM robot_brain.conversations WHERE session_id = 'mine'",
    )
    expect(rows).toEqual([{ n: 1 }])
  })

  it('refuses a privileged pool, naming the fix, and leaves it open', async () => {
    const pool = appPool(db.ownerUrl)
    const store = await openStore({ pool, driver: driver(), neon: db.neon, embedder: null })
    try {
      const err = await store.ready().then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as Error).message).toMatch(
        /^the pool given to openStore logs in as "postgres", which bypasses row-level security; .* IN ROLE /,
      )
    } finally {
      await store.close()
    }
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
  })

  it('a pool that does not say where it connects needs url', async () => {
    const opaque = {
      connect: async () => ({}),
      query: async () => ({}),
      end: async () => {},
      on() {},
      removeListener() {},
    }
    await expect(openStore({ pool: opaque, embedder: null })).rejects.toThrow(
      /pool: cannot tell where this pool connects/,
    )
  })
})
