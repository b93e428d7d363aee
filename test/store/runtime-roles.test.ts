// One runtime role per database (issue: "one runtime role for the whole cluster"). Roles are
// server-wide: when every Robot Brain database granted its tables to robot_brain_app, a login made
// for database A (the README's CREATE ROLE ... IN ROLE) could connect to database B on the same
// server, set any tenant and read it. Here:
//   - every backend: a database migrated with the shared role (migrations before 0007) is upgraded:
//     privileges and policies move to robot_brain_app_<database>, the shared role keeps nothing;
//   - PostgreSQL: the attack, before (old schema: the login reads B) and after (it cannot connect to
//     B, and reads nothing there even when CONNECT is open); the upgrade keeps the configured login
//     working on its own database only and names the others; doctor flags a shared role.
// Roles are cluster-wide and other test files run at once: every role made here has a unique name.
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadMigrations, migrate } from '../../src/db/migrate.js'
import { adoptionAdvice, deriveRuntimeRole, SHARED_ROLE } from '../../src/db/runtime-role.js'
import { runDoctor } from '../../src/doctor/run.js'
import { ConfigError } from '../../src/errors.js'
import { openStore, type Store } from '../../src/store/store.js'
import { ADMIN_URL, type FreshDatabase, freshDatabase, PG_HOST, PG_PORT, rawPg } from '../support/backend.js'
import { backend, openTestStore, storeOptions, type TestStore, turnInput } from '../support/store.js'

const beforeRoles = loadMigrations().filter((m) => m.version < 7)
const unique = () => `${process.pid}_${randomBytes(3).toString('hex')}`

/** Privileges and policies of `role` on the robot_brain schema, as the owner sees them. */
const HOLDINGS = `
SELECT
  (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
    WHERE n.nspname = 'robot_brain' AND a.grantee = r.oid) AS relations,
  (SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
    WHERE n.nspname = 'robot_brain' AND a.grantee = r.oid) AS functions,
  (SELECT count(*)::int FROM pg_policy pol WHERE r.oid = ANY (pol.polroles)) AS policies,
  has_schema_privilege(r.oid, 'robot_brain', 'USAGE') AS schema
FROM pg_roles r WHERE r.rolname = $1`

interface Holdings {
  relations: number
  functions: number
  policies: number
  schema: boolean
}

describe(`runtime role per database: upgrade from the shared role (${backend})`, () => {
  let t: TestStore
  beforeAll(async () => {
    t = await openTestStore('roles upgrade', { migrate: false })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('moves every privilege and policy of robot_brain_app to the database’s own role; the store works as it', async () => {
    // The schema as versions before 0007 left it: everything granted to the shared role.
    await migrate(
      t.store.transport.owner,
      { onlineSteps: { concurrently: backend !== 'pglite' } },
      beforeRoles,
    )
    const [shared] = await t.ownerQuery<Holdings>(HOLDINGS, [SHARED_ROLE])
    expect(shared?.relations).toBeGreaterThan(5)
    expect(shared?.policies).toBeGreaterThanOrEqual(3)

    const result = await t.store.migrate()
    const role = await t.store.runtimeRoleName()
    expect(role).toBe(deriveRuntimeRole(backend === 'pglite' ? 'postgres' : t.db.name))
    expect(result.role).toMatchObject({ role, movedFrom: [SHARED_ROLE], connectRestricted: true })

    const [own] = await t.ownerQuery<Holdings>(HOLDINGS, [role])
    const [left] = await t.ownerQuery<Holdings>(HOLDINGS, [SHARED_ROLE])
    // Everything the shared role held, plus what later migrations granted (to robot_brain_app in their
    // files, handed over the same way).
    expect(own?.relations).toBeGreaterThanOrEqual(shared?.relations ?? Infinity)
    expect(own?.functions).toBeGreaterThanOrEqual(shared?.functions ?? Infinity)
    expect(own?.policies).toBeGreaterThanOrEqual(shared?.policies ?? Infinity)
    expect(own?.schema).toBe(true)
    expect(left).toEqual({ relations: 0, functions: 0, policies: 0, schema: false })
    const [connect] = await t.ownerQuery<{ role: boolean; shared: boolean; pub: boolean }>(
      `SELECT has_database_privilege($1, current_database(), 'CONNECT') AS role,
              has_database_privilege($2, current_database(), 'CONNECT') AS shared,
              has_database_privilege('public', current_database(), 'CONNECT') AS pub`,
      [role, SHARED_ROLE],
    )
    expect(connect).toEqual({ role: true, shared: false, pub: false })

    // The store runs as the new role (row-level security still keeps tenants apart).
    await t.store.tenant('acme').recordTurn(turnInput('upgraded', 1))
    expect((await t.store.tenant('acme').history('upgraded')).turns).toHaveLength(1)
    expect((await t.store.tenant('other').history('upgraded')).turns).toHaveLength(0)

    // Running migrate again moves nothing more.
    expect((await t.store.migrate()).role).toMatchObject({ role, movedFrom: [] })
  })

  it('refuses a runtime role that is the shared one or not an identifier, naming the setting', async () => {
    await expect(openStore({ ...storeOptions(t.db), runtimeRole: SHARED_ROLE })).rejects.toThrow(
      /runtimeRole \(ROBOT_BRAIN_APP_ROLE\) must not be robot_brain_app/,
    )
    await expect(openStore({ ...storeOptions(t.db), runtimeRole: 'Robot-App' })).rejects.toBeInstanceOf(
      ConfigError,
    )
  })

  it('names roles after the database, shortened and made distinct when needed', () => {
    expect(deriveRuntimeRole('neondb')).toBe('robot_brain_app_neondb')
    const long = deriveRuntimeRole('x'.repeat(80))
    expect(long.length).toBeLessThanOrEqual(63)
    expect(deriveRuntimeRole('My-DB')).not.toBe(deriveRuntimeRole('my_db'))
    expect(deriveRuntimeRole('My-DB')).toMatch(/^robot_brain_app_my_db_[0-9a-f]{8}$/)
  })
})

describe.runIf(backend === 'pg')('runtime role per database: two databases on one server (pg)', () => {
  const dbs: FreshDatabase[] = []
  const logins: string[] = []
  const roles: string[] = []
  const stores: Store[] = []

  async function admin(text: string): Promise<void> {
    const c = await rawPg(ADMIN_URL)
    try {
      await c.query(text)
    } finally {
      await c.end()
    }
  }
  async function database(label: string): Promise<FreshDatabase> {
    const db = await freshDatabase(label)
    dbs.push(db)
    return db
  }
  async function ownerStore(db: FreshDatabase, extra: Record<string, unknown> = {}): Promise<Store> {
    const store = await openStore({ url: db.ownerUrl, retry: { budgetMs: 5_000 }, ...extra })
    stores.push(store)
    return store
  }
  /** A login role as the README makes it; `inRole`: the role it is a member of. */
  async function login(name: string, inRole: string): Promise<string> {
    const role = `rb_roles_${name}_${unique()}`
    logins.push(role)
    await admin(`CREATE ROLE ${role} LOGIN PASSWORD 'pw' IN ROLE ${inRole}`)
    return role
  }
  const as = (role: string, db: FreshDatabase) => `postgres://${role}:pw@${PG_HOST}:${PG_PORT}/${db.name}`
  /** What `role` reads of tenant acme in `db` with raw SQL: the attack. */
  async function readAcme(role: string, db: FreshDatabase): Promise<number> {
    const c = new pg.Client({ connectionString: as(role, db) })
    await c.connect()
    try {
      // The tenant setting lives for one transaction, as the store sets it.
      await c.query('BEGIN')
      await c.query("SELECT robot_brain.use_tenant('acme')")
      const { rows } = await c.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM robot_brain.conversations',
      )
      await c.query('COMMIT')
      return rows[0]?.n ?? -1
    } finally {
      await c.end().catch(() => {})
    }
  }
  async function seedAcme(store: Store, n: number): Promise<void> {
    for (let i = 0; i < n; i++) await store.tenant('acme').recordTurn(turnInput('secret', i))
  }

  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {})
    for (const db of dbs) await db.drop().catch(() => {})
    for (const role of [...logins, ...roles]) await admin(`DROP ROLE IF EXISTS ${role}`).catch(() => {})
  })

  it('a login made for database A cannot connect to database B, nor read anything there', async () => {
    const a = await database('roles attack a')
    const b = await database('roles attack b')
    const storeA = await ownerStore(a)
    const storeB = await ownerStore(b)
    await storeA.migrate()
    await storeB.migrate()
    await seedAcme(storeB, 3)
    const roleA = await storeA.runtimeRoleName()
    expect(roleA).not.toBe(await storeB.runtimeRoleName())

    // As the README says, for database A.
    const web = await login('web', roleA)
    const app = await openStore({ url: as(web, a), directUrl: a.ownerUrl, retry: { budgetMs: 5_000 } })
    stores.push(app)
    await app.tenant('acme').recordTurn(turnInput('mine', 1))
    expect(await readAcme(web, a)).toBe(1)

    // Database B: no connection at all.
    await expect(readAcme(web, b)).rejects.toMatchObject({
      code: '42501',
      message: expect.stringMatching(/permission denied for database/),
    })
    // Even where CONNECT is open to everyone (a database migrated by a role that does not own it):
    // B's tables, policies and functions belong to B's role only.
    await admin(`GRANT CONNECT ON DATABASE "${b.name}" TO PUBLIC`)
    await expect(readAcme(web, b)).rejects.toMatchObject({ code: '42501' })
    // A store of B given A's login says what is wrong.
    const wrong = await openStore({ url: as(web, b), directUrl: b.ownerUrl, retry: { budgetMs: 2_000 } })
    stores.push(wrong)
    await expect(wrong.ready()).rejects.toThrow(/not a member of robot_brain_app_/)
  })

  it('upgrade: the shared role let a login read another database; after migrate only its own', async () => {
    const a = await database('roles legacy a')
    const b = await database('roles legacy b')
    const storeB = await ownerStore(b)
    await migrate(storeB.transport.owner, {}, beforeRoles)
    const ownerA = await ownerStore(a)
    await migrate(ownerA.transport.owner, {}, beforeRoles)
    // A store of this version does not run on the old schema: B's tenant data is written as the owner.
    const bOwner = await rawPg(b.ownerUrl)
    try {
      await bOwner.query(
        `INSERT INTO robot_brain.sessions (tenant_id, id) VALUES ('acme', 'secret');
         INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
         VALUES ('acme', gen_random_uuid(), 'secret', 'p', 'the secret', 'kept', now())`,
      )
    } finally {
      await bOwner.end()
    }
    // Before: a login in the shared role, made for A, reads B's tenant.
    const legacy = await login('legacy', SHARED_ROLE)
    expect(await readAcme(legacy, b)).toBe(1)

    // B is migrated by its owner alone: the attack is closed; migrate names the logins to sort out.
    const upgradedB = await storeB.migrate()
    expect(upgradedB.role?.movedFrom).toEqual([SHARED_ROLE])
    expect(upgradedB.role?.sharedLogins).toContain(legacy)
    const advice = upgradedB.role ? adoptionAdvice(upgradedB.role).join('\n') : ''
    expect(advice).toContain(`GRANT ${await storeB.runtimeRoleName()} TO "${legacy}";`)
    await expect(readAcme(legacy, b)).rejects.toMatchObject({ code: '42501' })

    // Doctor on B: A still grants the shared role, and the legacy login can read it.
    const doctorB = await runDoctor({ url: b.ownerUrl })
    expect(doctorB.find((c) => c.id === 'runtime-role-shared')?.status).toBe('ok')
    expect(doctorB.find((c) => c.id === 'legacy-shared-role')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining(`"${a.name}"`),
    })

    // A is migrated with its app's URL (as serve does): that login becomes a member of A's role and
    // keeps working there, and only there.
    const upgradedA = await (await ownerStore(a, { url: as(legacy, a), directUrl: a.ownerUrl })).migrate()
    expect(upgradedA.role?.granted).toEqual([legacy])
    const app = await openStore({ url: as(legacy, a), directUrl: a.ownerUrl, retry: { budgetMs: 5_000 } })
    stores.push(app)
    await app.tenant('acme').recordTurn(turnInput('ours', 1))
    expect(await readAcme(legacy, a)).toBe(1)
    await expect(readAcme(legacy, b)).rejects.toMatchObject({ code: '42501' })
    // The app's store on B tells the operator what to grant (it is no member of B's role).
    const onB = await openStore({ url: as(legacy, b), directUrl: b.ownerUrl, retry: { budgetMs: 2_000 } })
    stores.push(onB)
    await expect(onB.ready()).rejects.toThrow(/may not connect to database .*GRANT robot_brain_app_/)
  })

  it('a copy of a database (CREATE DATABASE ... TEMPLATE) gets a role of its own at its first migrate', async () => {
    const a = await database('roles copy a')
    const storeA = await ownerStore(a)
    await storeA.migrate()
    await seedAcme(storeA, 2)
    const web = await login('copyweb', await storeA.runtimeRoleName())
    await storeA.close()
    const copy = `${a.name.slice(0, 50)}_copy`
    await admin(`CREATE DATABASE "${copy}" TEMPLATE "${a.name}"`)
    const copyDb: FreshDatabase = {
      ...a,
      name: copy,
      ownerUrl: `postgres://postgres@${PG_HOST}:${PG_PORT}/${copy}`,
      drop: async () => {
        await admin(`DROP DATABASE IF EXISTS "${copy}" WITH (FORCE)`)
        await admin(`DROP ROLE IF EXISTS ${deriveRuntimeRole(copy)}`)
      },
    }
    dbs.push(copyDb)
    // Before its migrate the copy grants A's role: A's login reads it (CONNECT is not copied).
    expect(await readAcme(web, copyDb)).toBe(2)
    const migrated = await (await ownerStore(copyDb)).migrate()
    expect(migrated.role).toMatchObject({
      role: deriveRuntimeRole(copy),
      movedFrom: [deriveRuntimeRole(a.name)],
      connectRestricted: true,
    })
    await expect(readAcme(web, copyDb)).rejects.toMatchObject({ code: '42501' })
    expect(await readAcme(web, a)).toBe(2)
  })

  it('doctor flags a runtime role shared by two databases, naming the other and the fix', async () => {
    const shared = `rb_roles_shared_${unique()}`
    roles.push(shared)
    const c = await database('roles doctor c')
    const d = await database('roles doctor d')
    await (await ownerStore(c, { runtimeRole: shared })).migrate()
    await (await ownerStore(d, { runtimeRole: shared })).migrate()
    const checks = await runDoctor({ url: c.ownerUrl, runtimeRole: shared })
    expect(checks.find((x) => x.id === 'runtime-role-shared')).toMatchObject({
      status: 'warn',
      message: expect.stringContaining(`"${d.name}"`),
      fix: expect.stringMatching(/ROBOT_BRAIN_APP_ROLE/),
    })
    // C given its own role (the default): no warning on either database.
    await (await ownerStore(c)).migrate()
    const after = await runDoctor({ url: c.ownerUrl })
    expect(after.find((x) => x.id === 'runtime-role-shared')).toMatchObject({ status: 'ok' })
    expect(after.find((x) => x.id === 'connect-privilege')).toMatchObject({ status: 'ok' })
    // And the first role is C's no more: D keeps it alone.
    const dChecks = await runDoctor({ url: d.ownerUrl, runtimeRole: shared })
    expect(dChecks.find((x) => x.id === 'runtime-role-shared')).toMatchObject({ status: 'ok' })
  })
})
