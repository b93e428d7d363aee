// Migrations: from empty, twice, concurrently, dry run (library and command line), edited files refused.
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadMigrations, type Migration, migrate, migrationStatus } from '../../src/db/migrate.js'
import { MigrationError } from '../../src/errors.js'
import { openStore, type Store } from '../../src/store/store.js'
import { type FreshDatabase, freshDatabase } from '../support/backend.js'
import {
  backend,
  freshTestDatabase,
  openTestStore,
  runCli,
  serverBackend,
  storeOptions,
  type TestStore,
  turnInput,
} from '../support/store.js'

const known = loadMigrations()
/** A number after every known migration (numbers may have gaps). */
const NEXT_VERSION = Math.max(...known.map((m) => m.version)) + 1

/** A fingerprint of the robot_brain schema: relations, columns, policies, functions. */
const SCHEMA_FINGERPRINT = `
SELECT
  (SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'robot_brain') AS relations,
  (SELECT count(*)::int FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'robot_brain' AND a.attnum > 0) AS columns,
  (SELECT string_agg(tablename || '.' || policyname, ',' ORDER BY tablename, policyname)
     FROM pg_policies WHERE schemaname = 'robot_brain') AS policies,
  (SELECT string_agg(p.proname, ',' ORDER BY p.proname)
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'robot_brain') AS functions`

function edited(m: Migration, sql: string): Migration {
  return { ...m, sql, checksum: createHash('sha256').update(sql).digest('hex') }
}

describe(`migrations (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    t = await openTestStore('migrate', { migrate: false })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const schemaExists = async () =>
    (await t.ownerQuery<{ s: string | null }>("SELECT to_regnamespace('robot_brain')::text AS s"))[0]?.s !==
    null

  it('refuses to work on an empty database, and a dry run changes nothing', async () => {
    await expect(t.store.getSession('s')).rejects.toThrow(/no Robot Brain schema yet.*migrate/)
    expect((await t.store.migrationStatus()).map((s) => [s.name, s.status])).toEqual(
      known.map((m) => [m.name, 'pending']),
    )
    const dry = await t.store.migrate({ dryRun: true })
    expect(dry.dryRun).toBe(true)
    expect(dry.applied).toEqual([])
    expect(dry.pending.map((m) => m.name)).toEqual(known.map((m) => m.name))
    expect(dry.pending[0]?.sql).toContain('CREATE TABLE robot_brain.conversations')
    expect(await schemaExists()).toBe(false)
  })

  it('migrates an empty database, two calls at once, and records every file with its checksum', async () => {
    // Two migrations of one store at once: each file runs once, in whichever call takes the lock first.
    const results = await Promise.all([t.store.migrate(), t.store.migrate()])
    expect(results.flatMap((r) => r.applied.map((m) => m.name)).sort()).toEqual(known.map((m) => m.name))
    const rows = await t.ownerQuery<{ version: number; name: string; checksum: string }>(
      'SELECT version, name, checksum FROM robot_brain.schema_migrations ORDER BY version',
    )
    expect(rows).toEqual(known.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })))
    expect(await t.store.schemaIsCurrent()).toBe(true)
    // The store works right after migrating.
    const turn = await t.store.recordTurn(turnInput('after-migrate', 1))
    expect((await t.store.history('after-migrate')).turns).toEqual([turn])
  })

  it('a second run does nothing', async () => {
    const before = await t.ownerQuery(SCHEMA_FINGERPRINT)
    const history = await t.ownerQuery('SELECT * FROM robot_brain.schema_migrations ORDER BY version')
    const counts = await t.counts()
    const again = await t.store.migrate()
    expect(again.applied).toEqual([])
    expect(await t.ownerQuery(SCHEMA_FINGERPRINT)).toEqual(before)
    expect(await t.ownerQuery('SELECT * FROM robot_brain.schema_migrations ORDER BY version')).toEqual(
      history,
    )
    expect(await t.counts()).toEqual(counts)
    const dry = await t.store.migrate({ dryRun: true })
    expect(dry.pending).toEqual([])
  })

  it('a dry run with a new migration lists it and applies nothing', async () => {
    const next = edited(
      {
        version: NEXT_VERSION,
        name: `${String(NEXT_VERSION).padStart(4, '0')}_extra.sql`,
        sql: '',
        checksum: '',
      },
      'CREATE TABLE robot_brain.dry_run_probe (id int)',
    )
    const dry = await migrate(t.store.transport.owner, { dryRun: true }, [...known, next])
    expect(dry.pending.map((m) => m.name)).toEqual([next.name])
    const [row] = await t.ownerQuery<{ t: string | null }>(
      "SELECT to_regclass('robot_brain.dry_run_probe')::text AS t",
    )
    expect(row?.t).toBeNull()
    expect(await t.ownerQuery('SELECT version FROM robot_brain.schema_migrations')).toHaveLength(known.length)
  })

  it('refuses an applied migration file edited afterwards, naming it, and applies nothing after it', async () => {
    const first = known[0] as Migration
    const changed = [edited(first, `${first.sql}\n-- an edit after release\n`), ...known.slice(1)]
    const next = edited(
      {
        version: NEXT_VERSION,
        name: `${String(NEXT_VERSION).padStart(4, '0')}_after_edit.sql`,
        sql: '',
        checksum: '',
      },
      'CREATE TABLE robot_brain.after_edit_probe (id int)',
    )
    const owner = t.store.transport.owner
    const err = await migrate(owner, {}, [...changed, next]).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(MigrationError)
    expect((err as Error).message).toMatch(
      new RegExp(`migration ${first.name} was changed after it was applied.*new migration`),
    )
    await expect(migrate(owner, { dryRun: true }, changed)).rejects.toThrow(
      /was changed after it was applied/,
    )
    const [row] = await t.ownerQuery<{ t: string | null }>(
      "SELECT to_regclass('robot_brain.after_edit_probe')::text AS t",
    )
    expect(row?.t).toBeNull()
    const states = await migrationStatus(owner, changed)
    expect(states[0]).toMatchObject({ name: first.name, status: 'changed' })
    // The original files are still accepted.
    expect((await migrate(owner, {}, known)).applied).toEqual([])
  })
})

describe.runIf(serverBackend)(`concurrent migrations from separate stores (${backend})`, () => {
  let db: FreshDatabase
  const stores: Store[] = []

  beforeAll(async () => {
    db = await freshDatabase('migrate race')
  })
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close().catch(() => {})))
    await db?.drop()
  })

  it('three stores migrating one empty database at once end with one correct schema', async () => {
    for (let i = 0; i < 3; i++) stores.push(await openStore(storeOptions(db)))
    const results = await Promise.all(stores.map((s) => s.migrate()))
    // Each migration ran exactly once, in whichever store got the lock first.
    expect(results.flatMap((r) => r.applied.map((m) => m.name)).sort()).toEqual(known.map((m) => m.name))
    for (const s of stores) expect(await s.schemaIsCurrent()).toBe(true)
    // Every store can write and sees the others' writes.
    await Promise.all(stores.map((s, i) => s.recordTurn(turnInput('race', i))))
    const session = await (stores[0] as Store).getSession('race')
    expect(session.messageCount).toBe(3)
  })
})

describe(`migrate --dry-run on the command line (${backend})`, () => {
  let db: FreshDatabase

  beforeAll(async () => {
    db = await freshTestDatabase('migrate cli', false)
  })
  afterAll(async () => {
    await db?.drop()
  })

  it('prints the pending SQL and changes nothing', { timeout: 180_000 }, async () => {
    const env: Record<string, string> = serverBackend
      ? {
          DATABASE_URL: db.appUrl,
          DATABASE_URL_UNPOOLED: db.ownerUrl,
          DATABASE_DRIVER: db.driver ?? 'pg',
          ...(db.neon ? { NEON_WS_PROXY: db.neon.wsProxy, NEON_WS_SECURE: 'false' } : {}),
        }
      : { ROBOT_BRAIN_DATA_DIR: db.dataDir as string }
    const run = await runCli(['migrate', '--dry-run'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(`-- ${known[0]?.name}`)
    expect(run.stdout).toContain('CREATE TABLE robot_brain.sessions')
    const store = await openStore(storeOptions(db))
    try {
      const { rows } = await store.transport.owner.query<{ s: string | null }>(
        "SELECT to_regnamespace('robot_brain')::text AS s",
      )
      expect(rows[0]?.s).toBeNull()
      expect((await store.migrationStatus()).every((s) => s.status === 'pending')).toBe(true)
    } finally {
      await store.close()
    }
  })
})
