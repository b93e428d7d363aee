// Read routing against a real streaming replica (scripts/replica.sh, port 5433): analytics, search and
// statistics read from the replica; a client's own writes are read back at once (from the primary);
// a stopped or lagging replica (replay paused with pg_wal_replay_pause()) sends reads to the primary
// with no error, and reads come back when it recovers. On the embedded database the primary answers.
//
// ROBOT_BRAIN_TEST_REPLICA_URL: the replica as its superuser (postgres://postgres@127.0.0.1:5433/postgres);
// .ci/run starts the replica and sets it. These tests change the replica (pause, stop): they live in
// this one file, which runs its tests one after another.
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { ReplicaState } from '../../src/db/read-routing.js'
import { buildApp } from '../../src/server/app.js'
import { newId } from '../../src/store/ids.js'
import { openStore, type Store } from '../../src/store/store.js'
import type { InteractionInput } from '../../src/store/types.js'
import { cli, dbEnv, ensureBuilt, json } from '../cli/cli.js'
import type { FreshDatabase } from '../support/backend.js'
import { backend, freshTestDatabase, serverBackend, storeOptions } from '../support/store.js'

const REPLICA_URL = process.env.ROBOT_BRAIN_TEST_REPLICA_URL?.trim() || ''
const SCRIPT = fileURLToPath(new URL('../../scripts/replica.sh', import.meta.url))
const FROM = '2026-06-01T00:00:00Z'
const TO = '2026-07-01T00:00:00Z'

function events(n: number, robotId: string): InteractionInput[] {
  return Array.from({ length: n }, (_, i) => ({
    robotId,
    interactionType: 'wave',
    durationMs: 100 + i,
    success: true,
    id: newId(),
    createdAt: new Date(Date.parse(FROM) + 3_600_000 * (i + 1)).toISOString(),
  }))
}

/** Events of `robotId` the store's analytics count (routed read). */
async function counted(store: Store, robotId: string): Promise<number> {
  const { groups } = await store.analytics.interactions({ from: FROM, to: TO, groupBy: 'robotId' })
  return groups.find((g) => g.key === robotId)?.count ?? 0
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Runs one statement on the replica as its superuser (a connection per call: the replica gets stopped). */
async function onReplica(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: REPLICA_URL })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

const serving = (store: Store) => async () => (await store.replica({ check: true })).serving

/**
 * A routed read of `store` runs on the replica: the replica is serving and has replayed past the
 * store's own last write (its migrate on open counts as one). Serving alone is not enough on a busy
 * machine: the replica may be within the lag bound yet still behind that write.
 */
const readsReplica = (store: Store) => async () => {
  if (!(await store.replica({ check: true })).serving) return false
  const n = (await store.replica()).reads.replica
  await counted(store, 'r-probe')
  return (await store.replica()).reads.replica === n + 1
}

describe.skipIf(serverBackend)(`read routing on the embedded database (${backend})`, () => {
  it('has no replica: routed reads run on the one database and see every write', async () => {
    const db = await freshTestDatabase('replica_embedded', true)
    const store = await openStore(storeOptions(db))
    try {
      await store.recordInteractions(events(3, 'r-embedded'))
      expect(await counted(store, 'r-embedded')).toBe(3)
      const state = await store.replica({ check: true })
      expect(state).toMatchObject({ configured: false, up: null, lagMs: null, serving: false })
    } finally {
      await store.close()
      await db.drop()
    }
  })
})

/**
 * A store reading `fresh` through the replica at `readUrl` (within a 60 s bound, so it serves): its
 * read transaction and single statements all answer from the primary, the replica having failed them.
 */
async function expectPrimaryAnswers(fresh: FreshDatabase, readUrl: string, robotId: string, n: number) {
  const store = await openStore(storeOptions(fresh, { readUrl, readMaxLagMs: 60_000 }))
  try {
    expect((await store.replica({ check: true })).serving).toBe(true)
    // A read transaction (interaction analytics) and single statements (statistics, search).
    expect(await counted(store, robotId)).toBe(n)
    expect(await store.sessionStats()).toEqual([])
    expect((await store.search({ query: 'hello', mode: 'fulltext' })).results).toEqual([])
    const state = await store.replica()
    expect(state.reads.fallbacks).toBeGreaterThanOrEqual(1)
    expect(state.reads.replica).toBe(0)
  } finally {
    await store.close()
  }
}

describe.skipIf(!serverBackend || Boolean(REPLICA_URL))(`read replica (${backend})`, () => {
  it.skip('needs ROBOT_BRAIN_TEST_REPLICA_URL: run scripts/replica.sh (as root) and set it to postgres://postgres@127.0.0.1:5433/postgres (.ci/run does both)', () => {})
})

describe.skipIf(!serverBackend || !REPLICA_URL)(`read replica (${backend})`, () => {
  let db: FreshDatabase
  const stores: Store[] = []

  /** The test database on the replica, as the app logs in. */
  function readUrl(): string {
    const read = new URL(db.appUrl)
    const replica = new URL(REPLICA_URL)
    read.hostname = replica.hostname
    read.port = replica.port
    return read.toString()
  }

  /** A store on the test database whose reads may go to the replica. */
  async function open(maxLagMs?: number): Promise<Store> {
    const store = await openStore(storeOptions(db, { readUrl: readUrl(), readMaxLagMs: maxLagMs }))
    stores.push(store)
    return store
  }

  beforeAll(async () => {
    db = await freshTestDatabase('replica', true)
    const owner = await openStore(storeOptions(db))
    await owner.migrate()
    await owner.close()
  })

  afterEach(async () => {
    // Whatever a test did to the replica, the next one starts with it running and replaying.
    execFileSync('bash', [SCRIPT, 'start'], { stdio: 'ignore' })
    await onReplica('SELECT pg_wal_replay_resume()')
  })

  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {})
    await db?.drop()
  })

  it('reads analytics from the replica, and a client reads its own writes at once', async () => {
    // Both with a wide lag bound: other tests write to the primary meanwhile and the replica may lag
    // a few seconds behind on a busy machine; what routes the writer's reads here is its own writes.
    const writer = await open(60_000)
    const other = await open(60_000)
    await until('the writer reads from the replica', readsReplica(writer))
    await until('the other store reads from the replica', readsReplica(other))

    // Nothing written by these stores: analytics run on the replica.
    const before = (await writer.replica()).reads.replica
    expect(await counted(writer, 'r-own')).toBe(0)
    expect(await writer.sessionStats()).toEqual([])
    await writer.search({ query: 'hello', mode: 'fulltext' })
    expect((await writer.replica()).reads.replica).toBe(before + 3)

    // With replay paused, the replica cannot have what is written now.
    await onReplica('SELECT pg_wal_replay_pause()')
    await writer.recordInteractions(events(5, 'r-own'))
    await writer.recordTurn({
      sessionId: 'own-1',
      robotPersonality: 'cheerful',
      userMessage: 'hello replica',
      robotResponse: 'hello writer',
    })
    // The writer sees its writes in analytics, statistics and search: they ran on the primary.
    const primaryBefore = (await writer.replica()).reads.primary
    expect(await counted(writer, 'r-own')).toBe(5)
    expect((await writer.sessionStats()).map((s) => s.sessionId)).toEqual(['own-1'])
    expect((await writer.search({ query: 'hello', mode: 'fulltext' })).results).toHaveLength(1)
    expect((await writer.replica()).reads.primary).toBe(primaryBefore + 3)

    // Another store (another process) that wrote nothing still reads the paused replica, within its
    // 60 s bound: the writes are not there yet, which shows where its reads ran.
    expect(await counted(other, 'r-own')).toBe(0)
    // History and sessions always read the primary.
    expect((await other.history('own-1')).turns).toHaveLength(1)
    expect((await other.getSession('own-1')).messageCount).toBe(1)

    await onReplica('SELECT pg_wal_replay_resume()')
    await until(
      'the other store sees the writes on the replica',
      async () => (await counted(other, 'r-own')) === 5,
    )
    // Once the replica has replayed past the writes, the writer's reads go back to it.
    await until('the writer reads from the replica again', async () => {
      const n = (await writer.replica()).reads.replica
      return (await counted(writer, 'r-own')) === 5 && (await writer.replica()).reads.replica === n + 1
    })
  })

  it('a replica that has not replayed a migration yet: reads answer from the primary, with no error', async () => {
    // Another process migrated (here: another store), so this store's own writes cannot tell it; the
    // replica is within the lag bound by its last replayed commit, yet lacks the schema.
    const fresh = await freshTestDatabase('replica_behind', false)
    try {
      const read = new URL(fresh.appUrl)
      const replica = new URL(REPLICA_URL)
      read.hostname = replica.hostname
      read.port = replica.port
      await until('the replica has the new database', async () => {
        const client = new pg.Client({ connectionString: read.toString() })
        try {
          await client.connect()
          await client.query('SELECT 1')
          return true
        } catch {
          return false
        } finally {
          await client.end().catch(() => {})
        }
      })
      await onReplica('SELECT pg_wal_replay_pause()')
      const owner = await openStore(storeOptions(fresh))
      await owner.migrate()
      await owner.recordInteractions(events(2, 'r-behind'))
      await owner.close()

      await expectPrimaryAnswers(fresh, read.toString(), 'r-behind', 2)
    } finally {
      await onReplica('SELECT pg_wal_replay_resume()')
      await fresh.drop()
    }
  })

  it('a replica that has the schema but not yet a grant the primary made: reads answer from the primary', async () => {
    // A migration creates its objects before it grants them, and the runtime role gets its grants after
    // the last one: a replica stopped in between answers "permission denied" where the primary would not.
    const fresh = await freshTestDatabase('replica_grant', false)
    const primary = new pg.Client({ connectionString: fresh.ownerUrl })
    try {
      const owner = await openStore(storeOptions(fresh))
      await owner.migrate()
      await owner.recordInteractions(events(3, 'r-grant'))
      await owner.close()
      await primary.connect()
      const [{ role_name: role }] = (await primary.query('SELECT role_name FROM robot_brain.runtime_role'))
        .rows as [{ role_name: string }]
      const read = new URL(fresh.appUrl)
      const replica = new URL(REPLICA_URL)
      read.hostname = replica.hostname
      read.port = replica.port
      // The replica replays a revoked USAGE on the schema, then stops before the grant that restores it.
      await primary.query(`REVOKE USAGE ON SCHEMA robot_brain FROM ${role}`)
      const lsn = (await primary.query('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn as string
      await until('the replica has replayed the revoke', async () => {
        const client = new pg.Client({ connectionString: read.toString() })
        try {
          await client.connect()
          const { rows } = await client.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn])
          return rows[0]?.done === true
        } catch {
          return false
        } finally {
          await client.end().catch(() => {})
        }
      })
      await onReplica('SELECT pg_wal_replay_pause()')
      await primary.query(`GRANT USAGE ON SCHEMA robot_brain TO ${role}`)

      await expectPrimaryAnswers(fresh, read.toString(), 'r-grant', 3)
    } finally {
      await onReplica('SELECT pg_wal_replay_resume()')
      await primary.end().catch(() => {})
      await fresh.drop()
    }
  })

  it('a lagging replica (replay paused): reads move to the primary, and return when it catches up', async () => {
    const reader = await open(1_000)
    const writer = await open()
    await until('the replica serves the reader', serving(reader))
    const start = await counted(reader, 'r-lag')

    await onReplica('SELECT pg_wal_replay_pause()')
    await writer.recordInteractions(events(7, 'r-lag'))
    // The primary moved on: after the bound the reader stops trusting the replica.
    await until('the reader leaves the lagging replica', async () => {
      const s: ReplicaState = await reader.replica({ check: true })
      return s.up === true && !s.serving && (s.lagMs ?? 0) > 1_000
    })
    const primaryBefore = (await reader.replica()).reads.primary
    // Another process's writes, read without an error, from the primary.
    expect(await counted(reader, 'r-lag')).toBe(start + 7)
    expect((await reader.replica()).reads.primary).toBe(primaryBefore + 1)

    // /metrics shows the lag.
    const app = await buildApp({ store: reader, allowAnonymous: true, logger: false })
    try {
      const url = await app.listen({ port: 0, host: '127.0.0.1' })
      const metrics = await fetch(`${url}/metrics`).then((r) => r.text())
      const lag = Number(/^robot_brain_replica_lag_seconds ([\d.e+-]+)$/m.exec(metrics)?.[1])
      expect(lag).toBeGreaterThan(1)
      expect(metrics).toMatch(/^robot_brain_replica_up 1$/m)
      expect(metrics).toMatch(/^robot_brain_replica_serving 0$/m)
    } finally {
      await app.close()
    }

    await onReplica('SELECT pg_wal_replay_resume()')
    // Back on the replica, with the writes replayed. Asserted as "eventually": a first read after the
    // replica served again was once seen to miss writes older than the lag bound (neon backend, busy
    // machine), an open question about the freshness check that this test does not settle.
    await until('the reader reads the writes from the replica again', async () => {
      if (!(await serving(reader)())) return false
      const n = (await reader.replica()).reads.replica
      const count = await counted(reader, 'r-lag')
      return count === start + 7 && (await reader.replica()).reads.replica === n + 1
    })
  })

  it('a stopped replica: reads still answer (from the primary), and use the replica again once it is back', async () => {
    const store = await open()
    const writer = await open()
    await writer.recordInteractions(events(4, 'r-stop'))
    await until(
      'the replica serves, with the writes',
      async () => (await serving(store)()) && (await counted(store, 'r-stop')) === 4,
    )

    execFileSync('bash', [SCRIPT, 'stop'], { stdio: 'ignore' })
    // Straight away, whether or not a check noticed yet: a read that meets the stopped replica is
    // answered by the primary.
    expect(await counted(store, 'r-stop')).toBe(4)
    await expect(store.sessionStats()).resolves.toBeInstanceOf(Array)
    expect((await store.search({ query: 'zebra', mode: 'fulltext' })).results).toEqual([])
    const down = await store.replica({ check: true })
    expect(down).toMatchObject({ up: false, serving: false, lagMs: null })
    expect(down.reason).toMatch(/unreachable|no answer/)

    // Writes go on while it is down; the slot keeps the WAL it will need.
    await writer.recordInteractions(events(2, 'r-stop'))
    expect(await counted(store, 'r-stop')).toBe(6)

    execFileSync('bash', [SCRIPT, 'start'], { stdio: 'ignore' })
    await until('the replica serves again', serving(store))
    const replicaBefore = (await store.replica()).reads.replica
    await until('the restarted replica has the writes', async () => (await counted(store, 'r-stop')) === 6)
    expect((await store.replica()).reads.replica).toBeGreaterThan(replicaBefore)
  })

  it('holds back no cleanup on the primary: its slot carries no horizon (hot_standby_feedback off)', async () => {
    // With feedback, the primary keeps every row version the replica might read, and the rollup rows
    // every batch of events updates stop being updated on their page (docs/resilience.md).
    const client = new pg.Client({ connectionString: REPLICA_URL })
    await client.connect()
    try {
      expect((await client.query('SHOW hot_standby_feedback')).rows[0].hot_standby_feedback).toBe('off')
    } finally {
      await client.end()
    }
    const primary = new pg.Client({ connectionString: db.ownerUrl })
    await primary.connect()
    try {
      const { rows } = await primary.query(
        'SELECT xmin::text AS xmin FROM pg_replication_slots WHERE slot_name = $1',
        [`robot_brain_replica_${new URL(REPLICA_URL).port}`],
      )
      expect(rows).toEqual([{ xmin: null }])
    } finally {
      await primary.end()
    }
  })

  it('status shows the replica lag, and that it is down when stopped', async () => {
    await ensureBuilt()
    const env = { ...dbEnv(db), DATABASE_READ_URL: readUrl() }
    const up = json<{ replicaLagSeconds: number | null; replica: ReplicaState }>(
      await cli(['status', '--json'], env),
    )
    expect(up.replica).toMatchObject({ configured: true, up: true, serving: true, maxLagMs: 10_000 })
    expect(up.replicaLagSeconds).toBeGreaterThanOrEqual(0)
    expect(up.replicaLagSeconds).toBeLessThan(10)
    const text = await cli(['status'], env)
    expect(text.stdout).toMatch(/^replica {5}up, lag \d+\.\d{3} s \(bound 10 s\): serving/m)

    execFileSync('bash', [SCRIPT, 'stop'], { stdio: 'ignore' })
    const down = json<{ replicaLagSeconds: number | null; replica: ReplicaState }>(
      await cli(['status', '--json'], env),
    )
    expect(down.replicaLagSeconds).toBeNull()
    expect(down.replica).toMatchObject({ up: false, serving: false })
  })
})
