// Monitoring on a real database of the backend under test: sizes per partition, dead rows and last
// vacuum per table, connections by state, a waiting lock, and what the embedded database cannot
// report. The same report through status --json, GET /monitoring and /metrics.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatherMonitoring } from '../../src/monitoring/index.js'
import { type Server, startServer } from '../http/support.js'
import { rawPg } from '../support/backend.js'
import { backend, openTestStore, serverBackend, type TestStore, turnInput } from '../support/store.js'

describe(`monitoring (${backend})`, () => {
  let ts: TestStore

  beforeAll(async () => {
    ts = await openTestStore('ops monitoring')
    for (let i = 0; i < 30; i++) await ts.store.recordTurn(turnInput(`mon-${i % 3}`, i))
  }, 180_000)
  afterAll(async () => {
    await ts?.cleanup()
  })

  const report = () => gatherMonitoring(ts.store.transport.owner, !serverBackend)

  it('lists every table and partition with its table and index size', async () => {
    const m = await report()
    const month = new Date().toISOString().slice(0, 7).replace('-', '_')
    const current = m.relations.find((r) => r.name === `conversations_p${month}`)
    expect(current, JSON.stringify(m.relations.map((r) => r.name))).toBeDefined()
    expect(current?.parent).toBe('conversations')
    expect(current?.tableBytes).toBeGreaterThan(0)
    expect(current?.indexBytes).toBeGreaterThan(0)
    const sessions = m.relations.find((r) => r.name === 'sessions')
    expect(sessions?.parent).toBeNull()
    // The partitioned parents hold no rows of their own and are not listed apart from their partitions.
    expect(m.relations.some((r) => r.name === 'conversations')).toBe(false)
    expect(m.cacheBlocks.hits).toBeGreaterThan(0)
    expect(m.cacheHitRatio).toBeGreaterThan(0)
    expect(m.cacheHitRatio).toBeLessThanOrEqual(1)
  })

  it('counts dead rows after a delete, and shows the last vacuum', async () => {
    await ts.store.deleteSession('mon-0')
    // Statistics reach the shared counters when a session goes idle; a vacuum reports at once.
    await ts.ownerQuery('VACUUM (ANALYZE) robot_brain.sessions')
    let m = await report()
    const vacuumed = m.relations.find((r) => r.name === 'sessions')
    expect(vacuumed?.lastVacuum ?? vacuumed?.lastAutovacuum).not.toBeNull()
    expect(Date.parse(vacuumed?.lastVacuum as string)).toBeGreaterThan(Date.now() - 600_000)
    if (!serverBackend) return // PGlite's single backend never goes idle: its row counters lag
    const deadline = Date.now() + 20_000
    const month = new Date().toISOString().slice(0, 7).replace('-', '_')
    for (;;) {
      m = await report()
      const part = m.relations.find((r) => r.name === `conversations_p${month}`)
      if ((part?.deadTuples ?? 0) >= 10 || Date.now() > deadline) {
        expect(part?.deadTuples).toBeGreaterThanOrEqual(10)
        break
      }
      await new Promise((r) => setTimeout(r, 500))
    }
  }, 60_000)

  it.runIf(serverBackend)('counts connections by state against max_connections', async () => {
    const m = await report()
    const [limit] = await ts.ownerQuery<{ max_connections: string }>('SHOW max_connections')
    expect(m.connections?.limit).toBe(Number(limit?.max_connections))
    expect(m.connections?.total).toBeGreaterThanOrEqual(1)
    expect(m.connections?.thisDatabase).toBeGreaterThanOrEqual(1)
    // The monitoring query itself is an active session.
    expect(m.connections?.byState.active).toBeGreaterThanOrEqual(1)
    expect(Object.values(m.connections?.byState ?? {}).reduce((a, b) => a + b, 0)).toBe(m.connections?.total)
    expect(m.waitingLocks).toEqual([])
    expect(m.notApplicable).toEqual([])
  })

  it.runIf(serverBackend)('shows a session waiting for a lock and who holds it', async () => {
    const holder = await rawPg(ts.db.ownerUrl)
    const waiter = new pg.Client({ connectionString: ts.db.ownerUrl })
    await waiter.connect()
    try {
      await holder.query('BEGIN; LOCK TABLE robot_brain.sessions IN ACCESS EXCLUSIVE MODE')
      const holderPid = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
      const waiterPid = (await waiter.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
      const blocked = waiter.query('SELECT count(*) FROM robot_brain.sessions')
      let lock: NonNullable<Awaited<ReturnType<typeof report>>['waitingLocks']>[number] | undefined
      for (let i = 0; i < 50 && !lock; i++) {
        lock = (await report()).waitingLocks?.find((l) => l.pid === waiterPid)
        if (!lock) await new Promise((r) => setTimeout(r, 100))
      }
      expect(lock?.relation).toBe('robot_brain.sessions')
      expect(lock?.mode).toBe('AccessShareLock')
      expect(lock?.blockedBy).toContain(holderPid)
      expect(lock?.query).toContain('SELECT count(*) FROM robot_brain.sessions')
      // Sizes need a share lock: the locked table's are left out rather than waited for.
      const locked = (await report()).relations.find((r) => r.name === 'sessions')
      expect(locked?.tableBytes).toBeNull()
      await holder.query('ROLLBACK')
      await blocked
    } finally {
      await holder.query('ROLLBACK').catch(() => {})
      await holder.end()
      await waiter.end()
    }
  })

  it.runIf(!serverBackend)('on the embedded database: says what does not apply', async () => {
    const m = await report()
    expect(m.connections).toBeNull()
    expect(m.waitingLocks).toBeNull()
    expect(m.slowQueries.available).toBe(false)
    expect(m.slowQueries.reason).toMatch(/embedded/)
    expect(m.notApplicable.join('\n')).toMatch(/connections/)
    expect(m.notApplicable.join('\n')).toMatch(/replica/)
  })

  it.runIf(serverBackend)('without pg_stat_statements in the database: says how to enable it', async () => {
    const m = await report()
    expect(m.slowQueries.available).toBe(false)
    expect(m.slowQueries.reason).toMatch(/CREATE EXTENSION pg_stat_statements/)
    expect(m.slowQueries.statements).toEqual([])
  })
})

describe(`GET /monitoring and /metrics (${backend})`, () => {
  let server: Server

  beforeAll(async () => {
    server = await startServer('ops_monitoring_http')
    await server.store.recordTurn(turnInput('http-mon', 1))
  }, 180_000)
  afterAll(async () => {
    await server?.cleanup()
  })

  it('GET /monitoring answers the report with the embedding backlog and the interaction buffer', async () => {
    const r = await server.call('GET', '/monitoring')
    expect(r.status, r.text).toBe(200)
    expect(r.body.relations.some((x: { name: string }) => x.name === 'sessions')).toBe(true)
    expect(r.body.cacheBlocks.hits).toBeGreaterThan(0)
    expect(r.body.embeddingBacklog).toBe(await server.store.embeddingBacklog())
    expect(r.body).toHaveProperty('interactionBuffer')
    // No DATABASE_READ_URL in these tests: no replica, no lag.
    expect(r.body.replica).toBeNull()
    expect(r.body.replicaLagSeconds).toBeNull()
    expect(r.body.slowQueries.available).toBe(false)
    if (serverBackend) expect(r.body.connections.limit).toBeGreaterThan(0)
    else expect(r.body.connections).toBeNull()
  })

  it('/metrics carries the database gauges', async () => {
    const r = await server.call('GET', '/metrics')
    expect(r.status).toBe(200)
    expect(r.text).toMatch(/^robot_brain_db_cache_hit_ratio \d/m)
    expect(r.text).toMatch(/^robot_brain_db_relation_size_bytes\{relation="sessions",kind="table"\} \d+/m)
    expect(r.text).toMatch(/^robot_brain_db_dead_tuples\{relation="sessions"\} \d+/m)
    expect(r.text).toMatch(/^robot_brain_db_statement_stats_available 0$/m)
    if (serverBackend) {
      expect(r.text).toMatch(/^robot_brain_db_max_connections \d+/m)
      expect(r.text).toMatch(/^robot_brain_db_connections\{state="active"\} \d+/m)
      expect(r.text).toMatch(/^robot_brain_db_waiting_locks 0$/m)
    }
  })
})
