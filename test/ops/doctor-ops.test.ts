// Doctor's operations checks on the backend under test: a partition missing for next month and a
// default partition holding rows (made by dropping a partition and writing into its month); and the
// same checks and the monitoring keys of status --json through the real command line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partitionChecks } from '../../src/doctor/ops-checks.js'
import type { StatusReport } from '../../src/doctor/status.js'
import { cli, dbEnv, ensureBuilt, json } from '../cli/cli.js'
import { type FreshDatabase, freshDatabase } from '../support/backend.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const now = new Date()
const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 15))
const nextMonth = next.toISOString().slice(0, 7)

describe(`doctor: partitions (${backend})`, () => {
  let ts: TestStore

  beforeAll(async () => {
    ts = await openTestStore('ops partitions')
  }, 180_000)
  afterAll(async () => {
    await ts?.cleanup()
  })

  it('all good after migrate: next month has its partitions, the default ones are empty', async () => {
    const checks = await partitionChecks(ts.store.transport.owner)
    expect(checks.map((c) => [c.id, c.status])).toEqual([
      [`partition conversations ${nextMonth}`, 'ok'],
      ['default partition conversations_default', 'ok'],
      [`partition robot_interactions ${nextMonth}`, 'ok'],
      ['default partition robot_interactions_default', 'ok'],
    ])
  })

  it("warns when next month's partition is missing and when the default partition holds rows", async () => {
    await ts.ownerQuery(`DROP TABLE robot_brain.conversations_p${nextMonth.replace('-', '_')}`)
    await ts.store.recordTurn(turnInput('next-month', 1, { createdAt: next.toISOString() }))
    const checks = await partitionChecks(ts.store.transport.owner)
    const missing = checks.find((c) => c.id === `partition conversations ${nextMonth}`)
    expect(missing?.status).toBe('warn')
    expect(missing?.message).toMatch(/no partition of conversations covers next month/)
    expect(missing?.fix).toBe('robot-brain-db maintain partitions')
    const dflt = checks.find((c) => c.id === 'default partition conversations_default')
    expect(dflt?.status).toBe('warn')
    expect(dflt?.message).toMatch(/^holds 1 row\(s\)/)
    expect(checks.find((c) => c.id === `partition robot_interactions ${nextMonth}`)?.status).toBe('ok')
  })
})

describe(`status --json and doctor: monitoring through the command line (${backend})`, () => {
  let db: FreshDatabase
  let env: Record<string, string>

  beforeAll(async () => {
    await ensureBuilt()
    db = await freshDatabase('ops cli')
    env = dbEnv(db)
    const m = await cli(['migrate'], env)
    expect(m.code, m.stderr).toBe(0)
  }, 300_000)
  afterAll(async () => {
    await db?.drop()
  })

  it('status --json holds connections, slowQueries, cacheHitRatio and embeddingBacklog', async () => {
    const r = await cli(['status', '--json'], env)
    expect(r.code, r.stderr).toBe(0)
    const s = json<StatusReport>(r)
    expect(s).toHaveProperty('cacheHitRatio')
    expect(s.embeddingBacklog).toBe(0)
    expect(s.slowQueries.available).toBe(false)
    expect(s.slowQueries.reason).toMatch(/pg_stat_statements/)
    expect(s.relations.find((x) => x.name === 'sessions')?.tableBytes).toBeGreaterThan(0)
    if (backend === 'pglite') expect(s.connections).toBeNull()
    else expect(s.connections?.limit).toBeGreaterThan(0)
    const text = await cli(['status'], env)
    expect(text.stdout).toMatch(/^cache hits {2}(\d+\.\d\d%|no reads yet)/m)
    expect(text.stdout).toMatch(/^slow queries unavailable: /m)
    expect(text.stdout).toMatch(/^ {4}conversations_p\d{4}_\d\d +\d/m)
  })

  it('doctor runs the operations checks', async () => {
    const r = await cli(['doctor', '--json'], env)
    const report = json<{ checks: Array<{ id: string; status: string }> }>(r)
    const ids = report.checks.map((c) => c.id)
    expect(ids).toContain('cache-hit-ratio')
    expect(ids).toContain(`partition conversations ${nextMonth}`)
    expect(ids).toContain('slow-statements')
    if (backend === 'pglite') expect(ids).toContain('backups')
    else expect(ids).toEqual(expect.arrayContaining(['wal-archiving', 'base-backup']))
  })
})
