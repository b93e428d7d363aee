// `robot-brain-db doctor` through the real CLI: exit 0 with only warnings on a healthy database, exit 1
// when a check fails (no schema, unreachable server, unencrypted remote URL), never a password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Check } from '../../src/doctor/check.js'
import type { FreshDatabase } from '../support/backend.js'
import { freshTestDatabase } from '../support/store.js'
import { backend, cli, dbEnv, ensureBuilt, json, ownerQuery } from './cli.js'

const PASSWORD = 'Sup3r-Secret_pw'

interface Report {
  ok: boolean
  summary: Record<Check['status'], number>
  checks: Check[]
}

const byId = (r: Report, id: string) => r.checks.find((c) => c.id === id)

/** Whether the server has an extension installed, available, or missing (from its catalog). */
function ext(
  name: string,
  catalog: Array<{ name: string; installed: string | null; available: string | null }> | undefined,
): 'installed' | 'available' | 'missing' {
  const row = catalog?.find((r) => r.name === name)
  return row?.installed ? 'installed' : row?.available ? 'available' : 'missing'
}

describe(`doctor command (${backend})`, () => {
  let db: FreshDatabase
  let env: Record<string, string>

  beforeAll(async () => {
    await ensureBuilt()
    // Empty, not migrated (PGlite: a copy of an initialized directory, so no process pays for initdb).
    db = await freshTestDatabase('cli doctor', false)
    // pg: the app URL carries a password (trust authentication ignores it) that must never be printed.
    if (backend === 'pg') {
      const u = new URL(db.appUrl)
      u.password = PASSWORD
      env = dbEnv(db, u.toString())
    } else env = dbEnv(db)
  }, 300_000)

  afterAll(async () => {
    await db?.drop()
  })

  it('fails the schema check (exit 1) before migrations', async () => {
    const r = await cli(['doctor', '--json'], env)
    expect(r.code).toBe(1)
    const report = json<Report>(r)
    expect(report.ok).toBe(false)
    expect(byId(report, 'schema')).toMatchObject({ status: 'fail', fix: expect.stringMatching(/migrate/) })
    expect(r.stderr).toMatch(/check\(s\) failed/)
  }, 300_000)

  it('passes a healthy local database: exit 0, warnings at most', async () => {
    const m = await cli(['migrate'], env)
    expect(m.code, m.stderr).toBe(0)
    const r = await cli(['doctor', '--json'], env)
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const report = json<Report>(r)
    expect(report.ok).toBe(true)
    expect(report.summary.fail).toBe(0)
    expect(byId(report, 'schema')?.status).toBe('ok')
    expect(byId(report, 'server-version')?.status).toBe('ok')
    expect(byId(report, 'clock-skew')?.status).toBe('ok')
    // Extensions: what the server has is the machine's business; the check must report it truly.
    // The expectation comes from the server's own catalog, so the test holds with or without pgvector.
    const [catalog] = await ownerQuery<{ name: string; installed: string | null; available: string | null }>(
      db,
      [
        `SELECT x.name, e.extversion AS installed, a.default_version AS available
       FROM unnest(ARRAY['vector', 'pg_stat_statements', 'pgcrypto', 'pg_trgm']) AS x(name)
       LEFT JOIN pg_extension e ON e.extname = x.name
       LEFT JOIN pg_available_extensions a ON a.name = x.name`,
      ],
    )
    expect(catalog).toHaveLength(4)
    for (const row of catalog ?? []) {
      const check = byId(report, `extension ${row.name}`)
      if (row.installed)
        expect(check).toMatchObject({ status: 'ok', message: `installed (${row.installed})` })
      else if (row.available) {
        expect(check).toMatchObject({
          status: 'ok',
          message: `available (${row.available}), not installed yet`,
        })
      } else {
        expect(check).toMatchObject({
          status: 'warn',
          message: expect.stringMatching(/^not available on this server: /),
        })
      }
    }
    if (ext('vector', catalog) === 'missing') {
      expect(byId(report, 'extension vector')?.message).toMatch(/semantic search unavailable/)
    }
    if (backend === 'pglite') expect(byId(report, 'runtime-role')?.status).toBe('ok')
    else {
      expect(byId(report, 'sslmode (app)')).toMatchObject({
        status: 'ok',
        message: expect.stringMatching(/local/),
      })
    }
    if (backend === 'pg') {
      // A superuser on a direct URL: workable (the store switches role), but worth a warning.
      expect(byId(report, 'runtime-role')).toMatchObject({
        status: 'warn',
        message: expect.stringMatching(/superuser/),
      })
    }
    if (backend === 'pgbouncer') expect(byId(report, 'runtime-role')?.status).toBe('ok')
    expect(r.stdout + r.stderr).not.toContain(PASSWORD)
  }, 300_000)

  it('prints one line per check and a summary', async () => {
    const r = await cli(['doctor'], env)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^ok\s+schema\s+current/m)
    expect(r.stdout).toMatch(/^\d+ ok, \d+ warning\(s\), 0 failed, \d+ skipped$/m)
    for (const line of r.stdout.trim().split('\n').slice(0, -2))
      expect(line).toMatch(/^(ok|warn|fail|skip)\s/)
    expect(r.stdout + r.stderr).not.toContain(PASSWORD)
  }, 300_000)

  // The last three never open the test database: they run side by side (one waits on a refused
  // connection, one on a name that never resolves).
  it.concurrent('fails (exit 1) on an unreachable server and keeps the password out', async () => {
    const r = await cli(['doctor', '--json'], {
      DATABASE_URL: `postgres://robot:${PASSWORD}@127.0.0.1:1/nowhere`,
    })
    expect(r.code).toBe(1)
    const report = json<Report>(r)
    expect(byId(report, 'connect (app)')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/cannot connect/),
    })
    expect(byId(report, 'schema')?.status).toBe('skip')
    expect(r.stdout + r.stderr).not.toContain(PASSWORD)
  }, 300_000)

  it.concurrent('fails (exit 1) on a remote host without TLS, and warns on a short connect timeout', async () => {
    // .invalid never resolves (RFC 2606): the configuration checks decide, no internet needed.
    const r = await cli(['doctor'], {
      DATABASE_URL: `postgres://robot:${PASSWORD}@db.invalid:5432/app?sslmode=disable`,
      DATABASE_CONNECT_TIMEOUT_MS: '3000',
    })
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      /^fail\s+sslmode \(app\)\s+sslmode=disable on db\.invalid.*fix: add sslmode=require/m,
    )
    expect(r.stdout).toMatch(/^warn\s+connect-timeout\s+3 s/m)
    expect(r.stdout).toMatch(/^fail\s+connect \(app\)/m)
    expect(r.stdout + r.stderr).not.toContain(PASSWORD)
  }, 300_000)

  it.concurrent('turns an invalid URL into a failed config check', async () => {
    const r = await cli(['doctor', '--json'], { DATABASE_URL: `mysql://robot:${PASSWORD}@localhost/app` })
    expect(r.code).toBe(1)
    expect(byId(json<Report>(r), 'config')).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/postgres:\/\//),
    })
    expect(r.stdout + r.stderr).not.toContain(PASSWORD)
  }, 300_000)
})
