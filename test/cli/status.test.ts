// `robot-brain-db status` through the real CLI: before the schema exists, then after seeding (counts
// across tenants, partitions with their ranges and exact rows), and never a password.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StatusReport } from '../../src/doctor/status.js'
import type { FreshDatabase } from '../support/backend.js'
import { freshTestDatabase } from '../support/store.js'
import { backend, cli, dbEnv, ensureBuilt, json } from './cli.js'

const PASSWORD = 'n0t-For-Logs_42'

/** The app URL with a password in it. Trust authentication on the test server ignores it. */
function withPassword(url: string): string {
  const u = new URL(url)
  u.password = PASSWORD
  return u.toString()
}

describe(`status command (${backend})`, () => {
  let db: FreshDatabase
  let env: Record<string, string>

  beforeAll(async () => {
    await ensureBuilt()
    // Empty, not migrated (PGlite: a copy of an initialized directory, so no process pays for initdb).
    db = await freshTestDatabase('cli status', false)
    env = backend === 'pg' ? dbEnv(db, withPassword(db.appUrl)) : dbEnv(db)
  }, 300_000)

  afterAll(async () => {
    await db?.drop()
  })

  it('reports pending migrations and no tables before the schema exists', async () => {
    const r = await cli(['status', '--json'], env)
    expect(r.code, r.stderr).toBe(0)
    const s = json<StatusReport>(r)
    expect(s.schema.current).toBe(false)
    expect(s.schema.applied).toEqual([])
    expect(s.schema.pending).toContain('0001_schema.sql')
    expect(s.tables).toBeNull()
    expect(s.partitions).toBeNull()
    expect(s.server.versionNum).toBeGreaterThanOrEqual(150000)
  }, 300_000)

  it('after seeding two tenants: exact counts across tenants and rows per monthly partition', async () => {
    const range = ['--from', '2025-01-10', '--to', '2025-02-20']
    const one = await cli(
      ['seed', '--sessions', '6', '--turns', '3', '--events', '11', ...range, '--seed', '1'],
      env,
    )
    expect(one.code, one.stderr).toBe(0)
    const two = await cli(
      [
        'seed',
        '--sessions',
        '2',
        '--turns',
        '4',
        '--events',
        '5',
        ...range,
        '--seed',
        '2',
        '--tenant',
        'acme',
      ],
      env,
    )
    expect(two.code, two.stderr).toBe(0)

    const r = await cli(['status', '--json'], env)
    expect(r.code, r.stderr).toBe(0)
    const s = json<StatusReport>(r)
    expect(s.schema.current).toBe(true)
    expect(s.schema.pending).toEqual([])
    expect(s.tables).toEqual({
      sessions: { rows: 8, estimated: false },
      conversations: { rows: 6 * 3 + 2 * 4, estimated: false },
      robot_interactions: { rows: 16, estimated: false },
    })
    const conv = s.partitions?.conversations ?? []
    const jan = conv.find((p) => p.name === 'conversations_p2025_01')
    expect(jan).toMatchObject({
      from: '2025-01-01T00:00:00.000Z',
      to: '2025-02-01T00:00:00.000Z',
      default: false,
    })
    expect(conv.find((p) => p.default)).toMatchObject({ name: 'conversations_default', rows: 0, from: null })
    expect(conv.reduce((n, p) => n + (p.rows ?? 0), 0)).toBe(26)
    const events = s.partitions?.robot_interactions ?? []
    expect(events.reduce((n, p) => n + (p.rows ?? 0), 0)).toBe(16)
    expect(events.map((p) => p.name)).toEqual(expect.arrayContaining(['robot_interactions_p2025_02']))

    if (backend === 'pglite') {
      expect(s.connection).toMatchObject({ driver: 'pglite', dataDir: db.dataDir })
    } else {
      expect(s.connection.driver).toBe(db.driver)
      expect(s.connection.url).toContain(new URL(db.appUrl).host)
    }
  }, 300_000)

  it('prints a readable report without the password', async () => {
    const r = await cli(['status'], env)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^schema\s+current/m)
    expect(r.stdout).toMatch(/^\s+conversations\s+26$/m)
    expect(r.stdout).toMatch(/conversations_p2025_02\s+2025-02-01 to 2025-03-01/)
    expect(r.stdout + r.stderr).not.toContain(PASSWORD)
    if (backend === 'pg') expect(r.stdout).toContain(':***@')
  }, 300_000)
})
