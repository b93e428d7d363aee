// `robot-brain-db encryption` on the command line: without a master key it refuses with the variable
// named and changes nothing; with one it enables a tenant, `status --json` shows it, rotate makes a new
// data key, rotate --master-only rewraps with a new master key, shred needs --yes and then destroys
// every data key; no output holds a master key.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { EncryptionStatus } from '../../src/security/encryption/tenant-encryption.js'
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

      const rotated = await cli(['encryption', 'rotate', '--tenant', 'acme', '--json'], keyed)
      expect(rotated.code, rotated.stderr).toBe(0)
      const afterRotate = JSON.parse(rotated.stdout) as { status: EncryptionStatus; finished: boolean }
      expect(afterRotate.finished).toBe(true)
      expect(afterRotate.status.keyVersion).toBe(2)

      // A new master key listed first becomes current; the old one still opens the data keys.
      const key2 = randomBytes(32).toString('base64')
      const rekeyed = { ...env, ROBOT_BRAIN_MASTER_KEY: `k2:${key2},k1:${key}` }
      const rewrapped = await cli(
        ['encryption', 'rotate', '--tenant', 'acme', '--master-only', '--json'],
        rekeyed,
      )
      expect(rewrapped.code, rewrapped.stderr).toBe(0)
      const afterRewrap = (JSON.parse(rewrapped.stdout) as { status: EncryptionStatus }).status
      expect(afterRewrap.keys.filter((k) => k.state !== 'destroyed').map((k) => k.masterKeyId)).toEqual(
        afterRewrap.keys.filter((k) => k.state !== 'destroyed').map(() => 'k2'),
      )

      const unconfirmed = await cli(['encryption', 'shred', '--tenant', 'acme'], rekeyed)
      expect(unconfirmed.code).toBe(2) // a usage error
      expect(unconfirmed.stderr).toMatch(/--yes/)
      const shredded = await cli(['encryption', 'shred', '--tenant', 'acme', '--yes', '--json'], rekeyed)
      expect(shredded.code, shredded.stderr).toBe(0)
      const afterShred = JSON.parse(shredded.stdout) as EncryptionStatus
      expect(afterShred.state).toBe('shredded')
      expect(afterShred.keys.every((k) => k.state === 'destroyed')).toBe(true)

      for (const r of [refused, before, enabled, status, rotated, rewrapped, unconfirmed, shredded]) {
        expect(r.stdout + r.stderr).not.toContain(key)
        expect(r.stdout + r.stderr).not.toContain(key2)
      }
    },
    TIMEOUT,
  )
})
