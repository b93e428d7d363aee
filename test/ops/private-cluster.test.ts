// What needs server settings the shared test server cannot change under other suites: slow statements
// (pg_stat_statements preloaded), a low cache hit ratio (tiny shared_buffers), and WAL archiving with
// base backups (archive_mode needs a restart). A private cluster of this test, on the pg backend only.
import { existsSync, readdirSync } from 'node:fs'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Check } from '../../src/doctor/check.js'
import { runDoctor } from '../../src/doctor/run.js'
import { gatherMonitoring } from '../../src/monitoring/index.js'
import { openStore } from '../../src/store/store.js'
import { backendName } from '../support/backend.js'
import {
  type PrivateCluster,
  privateDir,
  runPgBinary,
  startPrivateCluster,
} from '../support/faults/cluster.mjs'
import { createDatabase } from '../support/faults/scenario.js'

const enabled = backendName() === 'pg'

async function sql<R = Record<string, unknown>>(url: string, ...queries: string[]): Promise<R[]> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    let rows: R[] = []
    for (const q of queries) rows = (await c.query(q)).rows as R[]
    return rows
  } finally {
    await c.end() // a backend flushes its statistics as it exits
  }
}

const byId = (checks: Check[], id: string) => checks.find((c) => c.id === id)

async function until(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

describe.skipIf(!enabled)('doctor and status on a private cluster: statements, cache, backups', () => {
  let cluster: PrivateCluster
  let url: string
  let archive: string
  const doctor = () => runDoctor({ url, driver: 'pg', retry: { budgetMs: 5000 } })

  beforeAll(async () => {
    cluster = await startPrivateCluster({
      settings: ["shared_preload_libraries='pg_stat_statements'", 'shared_buffers=1MB'],
    })
    archive = privateDir('rb-ops-archive-')
    url = await createDatabase(cluster.url(), 'ops_checks')
    const store = await openStore({ url, driver: 'pg' })
    try {
      await store.migrate()
    } finally {
      await store.close()
    }
  }, 120_000)
  afterAll(async () => {
    await cluster?.destroy()
  })

  it('pg_stat_statements preloaded but not created: says to create it', async () => {
    const checks = await doctor()
    const slow = byId(checks, 'slow-statements')
    expect(slow?.status).toBe('warn')
    expect(slow?.fix).toMatch(/CREATE EXTENSION pg_stat_statements \(its library is preloaded\)/)
  })

  it('finds a statement averaging over 100 ms, in status and in doctor', async () => {
    await sql(url, 'CREATE EXTENSION pg_stat_statements')
    await sql(url, 'SELECT pg_sleep(0.15)', 'SELECT pg_sleep(0.15)', 'SELECT 1')
    const owner = new pg.Pool({ connectionString: url, max: 1 })
    try {
      const m = await gatherMonitoring(owner, false)
      expect(m.slowQueries.available).toBe(true)
      const top = m.slowQueries.statements[0]
      expect(top?.query).toMatch(/pg_sleep/)
      expect(top?.calls).toBe(2)
      expect(top?.meanMs).toBeGreaterThanOrEqual(150)
      // DDL is left out: the CREATE EXTENSION and the migrations are not application statements.
      expect(m.slowQueries.statements.some((s) => /^\s*create/i.test(s.query))).toBe(false)
    } finally {
      await owner.end()
    }
    const slow = byId(await doctor(), 'slow-statements')
    expect(slow?.status).toBe('warn')
    expect(slow?.message).toMatch(/over 100 ms: \d+ ms × 2: SELECT pg_sleep/)
  })

  it('warns on a cache hit ratio under 99% once enough blocks were read', async () => {
    const cacheUrl = await createDatabase(cluster.url(), 'ops_cache')
    // 1 MB of shared buffers and a 20 MB table: every scan reads it from the operating system.
    await sql(
      cacheUrl,
      "CREATE TABLE big AS SELECT g AS n, repeat('x', 40) AS pad FROM generate_series(1, 300000) g",
    )
    await sql(cacheUrl, ...Array.from({ length: 6 }, () => 'SELECT count(*) FROM big'))
    const checks = await runDoctor({ url: cacheUrl, driver: 'pg', retry: { budgetMs: 5000 } })
    const cache = byId(checks, 'cache-hit-ratio')
    expect(cache?.status, cache?.message).toBe('warn')
    expect(cache?.message).toMatch(/^\d+\.\d\d% of block reads came from shared buffers/)
    expect(cache?.fix).toMatch(/shared_buffers/)
  })

  it('WAL archiving off: names pgBackRest; on: reports the archiver, then the base backup', async () => {
    let checks = await doctor()
    expect(byId(checks, 'wal-archiving')?.status).toBe('warn')
    expect(byId(checks, 'wal-archiving')?.message).toMatch(/archive_mode is off/)
    expect(byId(checks, 'wal-archiving')?.fix).toMatch(
      /pgBackRest .*archive_command = 'pgbackrest --stanza=main archive-push %p'/,
    )
    expect(byId(checks, 'base-backup')?.status).toBe('warn')
    expect(byId(checks, 'base-backup')?.fix).toMatch(/pgbackrest --stanza=main --type=full backup/)

    await sql(
      cluster.url(),
      "ALTER SYSTEM SET archive_mode = 'on'",
      `ALTER SYSTEM SET archive_command = 'test ! -f ${archive}/%f && cp %p ${archive}/%f'`,
    )
    await cluster.restart()
    checks = await doctor()
    expect(byId(checks, 'wal-archiving')?.status).toBe('ok')
    expect(byId(checks, 'wal-archiving')?.message).toMatch(/archive_mode on, archive_command test ! -f/)
    expect(byId(checks, 'base-backup')?.message).toMatch(/no base backup found/)

    const backup = privateDir('rb-ops-basebackup-')
    await runPgBinary('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(cluster.port),
      '-U',
      'postgres',
      '-D',
      `${backup}/data`,
      '-X',
      'none',
    ])
    await until('the backup history file to be archived', async () =>
      readdirSync(archive).some((f) => f.endsWith('.backup')),
    )
    checks = await doctor()
    expect(byId(checks, 'base-backup')?.status).toBe('ok')
    expect(byId(checks, 'base-backup')?.message).toMatch(
      /latest base backup \d{4}-\d\d-\d\dT.* \(\w+\.\w+\.backup\)/,
    )
    expect(byId(checks, 'wal-archiving')?.message).toMatch(/[1-9]\d* segment\(s\) archived, last /)
    expect(existsSync(`${backup}/data/PG_VERSION`)).toBe(true)
  }, 120_000)

  it('an archive command that fails is reported', async () => {
    await sql(cluster.url(), "ALTER SYSTEM SET archive_command = 'false'", 'SELECT pg_reload_conf()')
    await sql(
      url,
      'CREATE TABLE wal_filler AS SELECT generate_series(1, 1000) AS n',
      'SELECT pg_switch_wal()',
    )
    await until('the archiver to fail', async () => {
      const [a] = await sql<{ failed: number }>(
        url,
        'SELECT failed_count::int AS failed FROM pg_stat_archiver',
      )
      return (a?.failed ?? 0) > 0
    })
    const archiving = byId(await doctor(), 'wal-archiving')
    expect(archiving?.status).toBe('warn')
    expect(archiving?.message).toMatch(
      /archive_command false \(a command of your own\) is failing: \d+ failure/,
    )
  }, 60_000)
})
