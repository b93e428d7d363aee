// The runtime role through the real CLI, on every backend: `migrate` names the database's own role
// (and, with --json, what it did), `doctor` reports it as this database's own and CONNECT as not open
// to every role. The attack and the upgrade are in test/store/runtime-roles.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Check } from '../../src/doctor/check.js'
import { type FreshDatabase, runtimeRoleOf } from '../support/backend.js'
import { freshTestDatabase } from '../support/store.js'
import { backend, cli, dbEnv, ensureBuilt, json } from './cli.js'

describe(`runtime role on the command line (${backend})`, () => {
  let db: FreshDatabase
  let env: Record<string, string>

  beforeAll(async () => {
    await ensureBuilt()
    // Empty, not migrated (PGlite: a copy of an initialized directory, so no process pays for initdb).
    db = await freshTestDatabase('cli roles', false)
    env = dbEnv(db)
  }, 300_000)
  afterAll(async () => {
    await db?.drop()
  })

  it('migrate prints the database’s runtime role; --json says what it did', async () => {
    const role = runtimeRoleOf(db)
    const r = await cli(['migrate'], env)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(`runtime role: ${role} (the app's login role must be a member of it)`)
    const again = await cli(['migrate', '--json'], env)
    expect(again.code, again.stderr).toBe(0)
    expect(json<{ role: Record<string, unknown>; advice: string[] }>(again)).toMatchObject({
      role: { role, movedFrom: [], connectRestricted: true },
      advice: [],
    })
    const dry = await cli(['migrate', '--dry-run'], env)
    expect(dry.stdout).toContain(`SELECT robot_brain.adopt_runtime_role('${role}');`)
  }, 300_000) // three processes, each opening the database (PGlite: seconds each on a busy machine)

  it('doctor: the role is this database’s own, and CONNECT is not open to every role', async () => {
    const r = await cli(['doctor', '--json'], env)
    const checks = json<{ checks: Check[] }>(r).checks
    const role = runtimeRoleOf(db)
    expect(checks.find((c) => c.id === 'runtime-role-shared')).toMatchObject({
      status: 'ok',
      message: `${role} is this database's own runtime role`,
    })
    expect(checks.find((c) => c.id === 'connect-privilege')?.status).toBe('ok')
    expect(checks.find((c) => c.id === 'runtime-role')?.message).toContain(role)
  })
})
