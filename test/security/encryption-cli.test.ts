// `robot-brain-db encryption` on the command line: without a master key it refuses with the variable
// named and changes nothing; with one it enables a tenant, `status --json` shows it, and no output
// holds the key.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cli, dbEnv, ensureBuilt } from '../cli/cli.js'
import type { FreshDatabase } from '../support/backend.js'
import { backend, freshTestDatabase } from '../support/store.js'

const TIMEOUT = 300_000

describe(`encryption on the command line (${backend})`, () => {
  let db: FreshDatabase
  beforeAll(async () => {
    await ensureBuilt()
    db = await freshTestDatabase('security_encryption_cli', true)
  }, TIMEOUT)
  afterAll(async () => {
    await db?.drop()
  })

  it(
    'refuses without a master key, then enables a tenant with one; status shows it; the key is never printed',
    async () => {
      const env = dbEnv(db)
      const migrated = await cli(['migrate'], env)
      expect(migrated.code, migrated.stderr).toBe(0)
      const refused = await cli(['encryption', 'enable', '--tenant', 'acme'], env)
      expect(refused.code, refused.stderr).toBe(1)
      expect(refused.stderr).toMatch(/ROBOT_BRAIN_MASTER_KEY/)
      const before = await cli(['encryption', 'status', '--json'], env)
      expect(before.code, before.stderr).toBe(0)
      expect(JSON.parse(before.stdout)).toEqual([])

      const key = randomBytes(32).toString('base64')
      const keyed = { ...env, ROBOT_BRAIN_MASTER_KEY: `k1:${key}` }
      const enabled = await cli(['encryption', 'enable', '--tenant', 'acme', '--json'], keyed)
      expect(enabled.code, enabled.stderr).toBe(0)
      const status = await cli(['encryption', 'status', '--json'], keyed)
      expect(status.code, status.stderr).toBe(0)
      const all = JSON.parse(status.stdout) as Array<{ tenantId: string; state: string }>
      expect(all.map((s) => [s.tenantId, s.state])).toEqual([['acme', 'on']])
      for (const r of [refused, before, enabled, status]) {
        expect(r.stdout + r.stderr).not.toContain(key)
      }
    },
    TIMEOUT,
  )
})
