// Checks the test harness itself (raw SQL only) on the backend chosen by ROBOT_BRAIN_TEST_BACKEND.
import { existsSync, readdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { Pool as NeonPool } from '@neondatabase/serverless'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ADMIN_URL,
  backendName,
  configureNeonForTests,
  ensureTestAppRole,
  type FreshDatabase,
  freshDatabase,
  rawPg,
  runtimeRoleOf,
  TEST_APP_ROLE,
} from './support/backend.js'
import { startWsProxy, wsProxyAddress } from './support/ws-proxy.js'

const backend = backendName()

describe(`test harness (${backend})`, () => {
  let db: FreshDatabase

  beforeAll(async () => {
    db = await freshDatabase('infra')
  })
  afterAll(async () => {
    await db?.drop()
  })

  it.runIf(backend === 'pglite')('gives an empty PGlite data directory', async () => {
    expect(db.driver).toBeUndefined()
    expect(db.appUrl).toBe('')
    expect(db.dataDir && readdirSync(db.dataDir)).toEqual([])
    const pgl = await PGlite.create({ dataDir: db.dataDir })
    const { rows } = await pgl.query<{ n: number }>(
      "select count(*)::int as n from pg_tables where schemaname = 'public'",
    )
    expect(rows[0]?.n).toBe(0)
    await pgl.close()
    const dir = db.dataDir as string
    await db.drop()
    expect(existsSync(dir)).toBe(false)
  })

  it.runIf(backend !== 'pglite')('creates an empty database reachable through ownerUrl', async () => {
    expect(db.name).toMatch(/^rbtest_infra_[0-9a-f]+$/)
    const c = await rawPg(db.ownerUrl)
    try {
      const { rows } = await c.query(
        "select current_database() as db, current_user as u, (select count(*)::int from pg_tables where schemaname = 'public') as n",
      )
      expect(rows[0]).toEqual({ db: db.name, u: 'postgres', n: 0 })
    } finally {
      await c.end()
    }
  })

  it.runIf(backend === 'pg')('appUrl is the direct URL', () => {
    expect(db.driver).toBe('pg')
    expect(db.appUrl).toBe(db.ownerUrl)
  })

  it.runIf(backend === 'pgbouncer')(
    'appUrl goes through PgBouncer (transaction mode) as the app role',
    async () => {
      expect(db.driver).toBe('pg')
      expect(db.appUrl).toContain(':6432/')
      const c = await rawPg(db.appUrl)
      try {
        const { rows } = await c.query(
          "select current_user as u, current_database() as db, pg_has_role($1, $2, 'MEMBER') as m",
          [TEST_APP_ROLE, runtimeRoleOf(db)],
        )
        expect(rows[0]).toEqual({ u: TEST_APP_ROLE, db: db.name, m: true })
      } finally {
        await c.end()
      }
      const admin = await rawPg('postgres://postgres@127.0.0.1:6432/pgbouncer')
      try {
        const { rows } = await admin.query('SHOW CONFIG')
        const mode = rows.find((r) => r.key === 'pool_mode')?.value
        expect(mode).toBe('transaction')
      } finally {
        await admin.end()
      }
    },
  )

  it.runIf(backend === 'neon')('appUrl works with the Neon serverless driver over the WS proxy', async () => {
    expect(db.driver).toBe('neon')
    expect(db.neon?.secureWebSocket).toBe(false)
    configureNeonForTests(db.neon as NonNullable<FreshDatabase['neon']>)
    const pool = new NeonPool({ connectionString: db.appUrl, ssl: false })
    try {
      const { rows } = await pool.query('select current_database() as db, $1::text as t', ['héllo ✓'])
      expect(rows[0]).toEqual({ db: db.name, t: 'héllo ✓' })
    } finally {
      await pool.end()
    }
  })

  it.runIf(backend === 'neon')('ws proxy dropAll() kills open connections', async () => {
    const proxy = await startWsProxy()
    configureNeonForTests({ wsProxy: wsProxyAddress(proxy.port), secureWebSocket: false })
    const pool = new NeonPool({ connectionString: db.appUrl, ssl: false })
    pool.on('error', () => {})
    try {
      const client = await pool.connect()
      client.on('error', () => {})
      expect(proxy.activeConnections()).toBe(1)
      expect(proxy.dropAll()).toBe(1)
      await expect(client.query('select 1')).rejects.toThrow()
      client.release(true)
      const { rows } = await pool.query('select 2 as n')
      expect(rows[0]).toEqual({ n: 2 })
    } finally {
      await pool.end()
      await proxy.close()
    }
  })

  it.runIf(backend !== 'pglite')(
    'ensureTestAppRole is race-safe and drop() removes the database',
    async () => {
      await Promise.all([ensureTestAppRole(), ensureTestAppRole()])
      const other = await freshDatabase('infra drop')
      const c = await rawPg(ADMIN_URL)
      try {
        const exists = async () =>
          (await c.query('select 1 from pg_database where datname = $1', [other.name])).rowCount === 1
        expect(await exists()).toBe(true)
        const holder = await rawPg(other.ownerUrl) // drop must succeed despite an open session
        holder.on('error', () => {})
        await other.drop()
        expect(await exists()).toBe(false)
        await holder.end().catch(() => {})
      } finally {
        await c.end()
      }
    },
  )
})
