// Setup mistakes on PostgreSQL and PgBouncer, through the real CLI and real servers: each one fails
// early, says what is wrong and how to fix it, and never half-works.
//   - a privileged login through a transaction-mode pooler: serve refuses to start, /readyz is 503
//   - the README's member login role given as the only URL: migrate, serve, keys, doctor, status
//   - a PgBouncer on another port than 6432 without DATABASE_POOLED=true: 08P01 recognised, not
//     retried, fix named; with DATABASE_POOLED=true it works
import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { retryReason } from '../../src/db/retry.js'
import type { Check } from '../../src/doctor/check.js'
import { ConfigError } from '../../src/errors.js'
import { buildApp } from '../../src/server/app.js'
import { openStore } from '../../src/store/store.js'
import {
  type FreshDatabase,
  freshDatabase,
  PG_HOST,
  PG_PORT,
  PGBOUNCER_PORT,
  rawPg,
  runtimeRoleOf,
  SUPERUSER,
  TEST_APP_ROLE,
} from '../support/backend.js'
import { freePort } from '../support/faults/cluster.mjs'
import { type PrivatePgBouncer, startPrivatePgBouncer } from '../support/faults/pgbouncer.mjs'
import { startServe } from '../support/faults/serve.mjs'
import { backend, cli, ensureBuilt, json } from './cli.js'

const PASSWORD = 'Setup-Secret_pw9'
const server = backend === 'pg' || backend === 'pgbouncer'

interface DoctorReport {
  ok: boolean
  checks: Check[]
}
const check = (r: DoctorReport, id: string) => r.checks.find((c) => c.id === id)

const ownerUrl = (db: FreshDatabase) => `postgres://${SUPERUSER}@${PG_HOST}:${PG_PORT}/${db.name}`
const withPassword = (url: string) => {
  const u = new URL(url)
  u.password = PASSWORD
  return u.toString()
}

async function admin(sql: string): Promise<void> {
  const c = await rawPg(`postgres://${SUPERUSER}@${PG_HOST}:${PG_PORT}/postgres`)
  try {
    await c.query(sql)
  } finally {
    await c.end()
  }
}

describe.runIf(server)(`setup errors on PostgreSQL and PgBouncer (${backend})`, () => {
  beforeAll(async () => {
    await ensureBuilt()
  }, 300_000)

  describe('a privileged login through a transaction-mode pooler', () => {
    let db: FreshDatabase
    // The shared PgBouncer (port 6432: recognised as a pooler) logging in as the superuser.
    const pooledSuperuser = (d: FreshDatabase) =>
      withPassword(`postgres://${SUPERUSER}@${PG_HOST}:${PGBOUNCER_PORT}/${d.name}`)

    beforeAll(async () => {
      db = await freshDatabase('setup privileged pooled')
      const m = await cli(['migrate'], { DATABASE_URL: ownerUrl(db) })
      expect(m.code, m.stderr).toBe(0)
    }, 300_000)
    afterAll(async () => {
      await db?.drop()
    })

    it('serve refuses to start, before listening, naming the fix', async () => {
      const r = await cli(['serve', '--port', '0'], {
        DATABASE_URL: pooledSuperuser(db),
        DATABASE_URL_UNPOOLED: ownerUrl(db),
      })
      expect(r.code, r.stdout + r.stderr).toBe(1)
      expect(r.stderr).toMatch(/logs in as "postgres", which bypasses row-level security/)
      expect(r.stderr).toMatch(new RegExp(`IN ROLE ${runtimeRoleOf(db)}`))
      expect(r.stdout).not.toMatch(/Server listening/)
      expect(r.stdout + r.stderr).not.toContain(PASSWORD)
    }, 120_000)

    it('/readyz is 503 with the reason, never ready while requests cannot succeed', async () => {
      const store = await openStore({ url: pooledSuperuser(db), directUrl: ownerUrl(db) })
      const app = await buildApp({ store, logger: false, allowAnonymous: true })
      try {
        await expect(store.ready()).rejects.toBeInstanceOf(ConfigError)
        const r = await app.inject({ method: 'GET', url: '/readyz' })
        expect(r.statusCode).toBe(503)
        expect(r.json().error).toMatchObject({
          code: 'not_ready',
          message: expect.stringMatching(/bypasses row-level security/),
        })
        expect(r.body).not.toContain(PASSWORD)
      } finally {
        await app.close()
        await store.close()
      }
    }, 120_000)

    it('doctor fails the runtime-role check (exit 1)', async () => {
      const r = await cli(['doctor', '--json'], {
        DATABASE_URL: pooledSuperuser(db),
        DATABASE_URL_UNPOOLED: ownerUrl(db),
      })
      expect(r.code).toBe(1)
      expect(check(json<DoctorReport>(r), 'runtime-role')).toMatchObject({
        status: 'fail',
        fix: expect.stringMatching(new RegExp(`IN ROLE ${runtimeRoleOf(db)}`)),
      })
    }, 120_000)
  })

  describe("the README's member login role given as the only URL", () => {
    let db: FreshDatabase
    let empty: FreshDatabase
    const role = `rb_setup_web_${process.pid}`
    const loginOnly = (d: FreshDatabase) => ({
      DATABASE_URL: `postgres://${role}:${PASSWORD}@${PG_HOST}:${PG_PORT}/${d.name}`,
    })
    const ownerFix = /set DATABASE_URL_UNPOOLED to the schema owner's direct URL/

    beforeAll(async () => {
      db = await freshDatabase('setup login only')
      empty = await freshDatabase('setup login only empty')
      const owner = { DATABASE_URL: ownerUrl(db) }
      expect((await cli(['migrate'], owner)).code).toBe(0)
      const seeded = await cli(['seed', '--sessions', '3', '--turns', '2', '--events', '4'], owner)
      expect(seeded.code, seeded.stderr).toBe(0)
      // As the README says, for the application.
      await admin(`DROP ROLE IF EXISTS ${role}`)
      await admin(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}' IN ROLE ${runtimeRoleOf(db)}`)
    }, 300_000)
    afterAll(async () => {
      await db?.drop()
      await empty?.drop()
      await admin(`DROP ROLE IF EXISTS ${role}`)
    })

    it('migrate says the role is not the owner and names DATABASE_URL_UNPOOLED', async () => {
      const r = await cli(['migrate'], loginOnly(db))
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(new RegExp(`as "${role}", which does not own the robot_brain schema`))
      expect(r.stderr).toMatch(ownerFix)
      expect(r.stdout + r.stderr).not.toContain(PASSWORD)
    }, 120_000)

    it('migrate on a database without the schema says the role may not create it', async () => {
      const r = await cli(['migrate'], loginOnly(empty))
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/may not create the robot_brain schema/)
      expect(r.stderr).toMatch(ownerFix)
    }, 120_000)

    it('serve refuses to start with the same message', async () => {
      const r = await cli(['serve', '--port', '0'], loginOnly(db))
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(ownerFix)
      expect(r.stdout).not.toMatch(/Server listening/)
    }, 120_000)

    it('keys list says so instead of "permission denied for table api_keys"', async () => {
      const r = await cli(['keys', 'list'], loginOnly(db))
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(ownerFix)
      expect(r.stderr).toMatch(/api_keys/)
    }, 120_000)

    it('doctor fails the owner-role check (exit 1)', async () => {
      const r = await cli(['doctor', '--json'], loginOnly(db))
      expect(r.code).toBe(1)
      expect(check(json<DoctorReport>(r), 'owner-role')).toMatchObject({
        status: 'fail',
        message: expect.stringMatching(new RegExp(`"${role}", which does not own`)),
        fix: expect.stringMatching(ownerFix),
      })
      // With the owner as the direct URL the same check passes.
      const fixed = await cli(['doctor', '--json'], {
        ...loginOnly(db),
        DATABASE_URL_UNPOOLED: ownerUrl(db),
      })
      expect(check(json<DoctorReport>(fixed), 'owner-role')?.status).toBe('ok')
      expect(fixed.code, fixed.stdout).toBe(0)
    }, 120_000)

    it('status prints no counts it cannot see, says why, and exits 1', async () => {
      const r = await cli(['status', '--json'], loginOnly(db))
      expect(r.code).toBe(1)
      const report = json<{
        tables: unknown
        rowsUnavailable?: string
        partitions: Record<string, Array<{ rows: number | null }>>
      }>(r)
      expect(report.tables).toBeNull()
      expect(report.rowsUnavailable).toMatch(ownerFix)
      for (const parts of Object.values(report.partitions)) for (const p of parts) expect(p.rows).toBeNull()
      const text = await cli(['status'], loginOnly(db))
      expect(text.stdout).toMatch(/^rows\s+unavailable: .*does not own/m)
      // No row count line (the monitoring table's sizes and statistics may show; counts may not).
      expect(text.stdout).not.toMatch(/^\s+sessions\s+~?[\d,]+\s*$/m)
      // As the owner the counts are there, and they are not zero.
      const owner = json<{ tables: Record<string, { rows: number }> }>(
        await cli(['status', '--json'], { ...loginOnly(db), DATABASE_URL_UNPOOLED: ownerUrl(db) }),
      )
      expect(owner.tables.sessions?.rows).toBe(3)
      expect(owner.tables.conversations?.rows).toBe(6)
    }, 120_000)

    it('with DATABASE_URL_UNPOOLED set to the owner, migrate and keys work', async () => {
      const env = { ...loginOnly(db), DATABASE_URL_UNPOOLED: ownerUrl(db) }
      const m = await cli(['migrate'], env)
      expect(m.code, m.stderr).toBe(0)
      const k = await cli(['keys', 'list'], env)
      expect(k.code, k.stderr).toBe(0)
    }, 120_000)
  })

  describe('a PgBouncer on another port than 6432, without DATABASE_POOLED', () => {
    let db: FreshDatabase
    let bouncer: PrivatePgBouncer
    let appUrl: string

    beforeAll(async () => {
      db = await freshDatabase('setup pooler port')
      expect((await cli(['migrate'], { DATABASE_URL: ownerUrl(db) })).code).toBe(0)
      bouncer = await startPrivatePgBouncer({ targetPort: PG_PORT, port: await freePort(46_000, 49_999) })
      expect(bouncer.port).not.toBe(6432)
      appUrl = withPassword(bouncer.url(db.name, TEST_APP_ROLE))
    }, 300_000)
    afterAll(async () => {
      await bouncer?.destroy()
      await db?.drop()
    })

    it('the library recognises 08P01 "unsupported startup parameter" and never retries it', async () => {
      expect(
        retryReason(
          Object.assign(new Error('unsupported startup parameter: statement_timeout'), { code: '08P01' }),
        ),
      ).toBeNull()
      const store = await openStore({
        url: appUrl,
        directUrl: ownerUrl(db),
        retry: { budgetMs: 120_000 },
      })
      const retries: string[] = []
      store.observeRetries({ onRetry: (_e, _n, _d, reason) => retries.push(reason) })
      try {
        const err = await store.ready().then(
          () => null,
          (e: unknown) => e,
        )
        expect(err).toBeInstanceOf(ConfigError)
        expect((err as Error).message).toMatch(/refused the startup parameter statement_timeout/)
        expect((err as Error).message).toContain(`${bouncer.host}:${bouncer.port}`)
        expect((err as Error).message).toMatch(/DATABASE_POOLED=true/)
        expect((err as Error).message).not.toContain(PASSWORD)
        expect(retries).toEqual([])
      } finally {
        await store.close()
      }
    }, 60_000)

    it('serve fails at once (no retrying for the budget) and names the fix', async () => {
      // A retry budget of two minutes, the CLI killed after one: retrying would show as a timeout.
      const started = performance.now()
      const r = await cli(
        ['serve', '--port', '0'],
        { DATABASE_URL: appUrl, DATABASE_URL_UNPOOLED: ownerUrl(db), DATABASE_RETRY_BUDGET_MS: '120000' },
        60_000,
      )
      expect(r.code, `serve did not fail on its own within 60 s:\n${r.stderr}`).toBe(1)
      expect(r.stderr).toMatch(/DATABASE_POOLED=true/)
      expect(r.stderr).toContain(`${bouncer.host}:${bouncer.port}`)
      expect(r.stderr).not.toMatch(/retry later/)
      expect(r.stdout + r.stderr).not.toContain(PASSWORD)
      expect(performance.now() - started).toBeLessThan(60_000)
    }, 90_000)

    it('a login PgBouncer refuses (08P01) fails at once, naming where, not after the retry budget', async () => {
      const r = await cli(
        ['serve', '--port', '0'],
        {
          DATABASE_URL: withPassword(bouncer.url(db.name, 'nobody_here')),
          DATABASE_URL_UNPOOLED: ownerUrl(db),
          DATABASE_POOLED: 'true',
          DATABASE_RETRY_BUDGET_MS: '120000',
        },
        60_000,
      )
      expect(r.code, `serve did not fail on its own within 60 s:\n${r.stderr}`).toBe(1)
      expect(r.stderr).toMatch(/authentication failed/)
      expect(r.stderr).toContain(`connecting to ${bouncer.host}:${bouncer.port} as "nobody_here"`)
      expect(r.stderr).not.toMatch(/retry later/)
      expect(r.stdout + r.stderr).not.toContain(PASSWORD)
    }, 90_000)

    it('doctor names DATABASE_POOLED=true, not the host and password', async () => {
      const r = await cli(['doctor', '--json'], { DATABASE_URL: appUrl, DATABASE_URL_UNPOOLED: ownerUrl(db) })
      expect(r.code).toBe(1)
      const c = check(json<DoctorReport>(r), 'connect (app)')
      expect(c).toMatchObject({ status: 'fail', fix: expect.stringMatching(/DATABASE_POOLED=true/) })
      expect(c?.fix).not.toMatch(/password/)
    }, 60_000)

    it('with DATABASE_POOLED=true the same URLs serve requests', async () => {
      const serve = await startServe({
        env: { DATABASE_URL: appUrl, DATABASE_URL_UNPOOLED: ownerUrl(db), DATABASE_POOLED: 'true' },
      })
      try {
        const turn = await serve.request('POST', '/v1/sessions/pooled-1/turns', {
          robotPersonality: 'calm',
          userMessage: 'hello',
          robotResponse: 'hi',
        })
        expect(turn.status, JSON.stringify(turn.body)).toBe(201)
        const history = await serve.request('GET', '/v1/sessions/pooled-1/turns')
        expect(history.status).toBe(200)
        expect((history.body as { turns: unknown[] }).turns).toHaveLength(1)
      } finally {
        await serve.stop()
      }
    }, 120_000)
  })
})
