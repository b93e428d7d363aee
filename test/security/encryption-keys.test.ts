// Key rotation and crypto-shredding, against a real database: a new master key rewraps the data keys
// at once; a new data key re-encrypts every row while turns keep arriving, and nothing is lost or
// corrupted; shredding makes the content unreadable (a clear error, never garbage), is in the audit
// log, and the audit chain still verifies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyAudit } from '../../src/security/audit-verify.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'
import { MASTER, newKey, withMasterKey } from './encryption-support.js'

const TIMEOUT = 240_000

describe(`encryption keys (${backend})`, () => {
  let t: TestStore
  beforeAll(async () => {
    t = await openTestStore('security_encryption_keys', { options: { masterKey: MASTER } })
  }, TIMEOUT)
  afterAll(async () => {
    await t?.cleanup()
  })

  /** Writes turns in `sessions` sessions until stop() and counts them; every write must succeed. */
  function writer(tenant: string, prefix: string) {
    let running = true
    const written: string[] = []
    const done = (async () => {
      let i = 0
      while (running && i < 300) {
        const text = `${prefix} turn ${i}`
        await t.store.tenant(tenant).recordTurn(turnInput(`${prefix}${i % 4}`, i, { userMessage: text }))
        written.push(text)
        i++
      }
    })()
    return {
      written,
      stop: async () => {
        running = false
        await done
      },
    }
  }

  async function allMessages(tenant: string, prefix: string): Promise<string[]> {
    const texts: string[] = []
    for (let s = 0; s < 4; s++) {
      let before: string | undefined
      for (;;) {
        const page = await t.store.tenant(tenant).history(`${prefix}${s}`, { limit: 200, before })
        texts.push(...page.turns.map((x) => x.userMessage))
        if (!page.nextCursor) break
        before = page.nextCursor
      }
    }
    return texts.sort()
  }

  it('rotates the data key under concurrent writes: every turn re-encrypted, none lost or corrupted', async () => {
    const tenant = 'rot_data'
    const s = t.store.tenant(tenant)
    await s.encryption.enable()
    for (let i = 0; i < 30; i++)
      await s.recordTurn(turnInput(`r${i % 4}`, i, { userMessage: `r before ${i}` }))
    await s.putSession('r0', { userMetadata: { note: 'kept through rotation' } })
    const w = writer(tenant, 'r')
    const rotated = await s.encryption.rotate({ batchSize: 7 })
    await w.stop()
    expect(rotated.finished).toBe(true)
    expect(rotated.status).toMatchObject({ state: 'on', keyVersion: 2, job: null })
    expect(rotated.status.keys.map((k) => [k.version, k.state])).toEqual([
      [1, 'retired'],
      [2, 'active'],
    ])
    expect(w.written.length).toBeGreaterThan(0)
    const raw = await t.ownerQuery<{ user_message: string }>(
      `SELECT user_message FROM robot_brain.conversations WHERE tenant_id = $1`,
      [tenant],
    )
    expect(raw).toHaveLength(30 + w.written.length)
    expect(raw.filter((r) => !r.user_message.startsWith('rbenc1:2:'))).toEqual([])
    const expected = [...Array.from({ length: 30 }, (_, i) => `r before ${i}`), ...w.written].sort()
    expect(await allMessages(tenant, 'r')).toEqual(expected)
    expect((await s.getSession('r0')).userMetadata).toEqual({ note: 'kept through rotation' })
    const counts = await t.ownerQuery<{ n: number }>(
      `SELECT sum(message_count)::int AS n FROM robot_brain.sessions WHERE tenant_id = $1`,
      [tenant],
    )
    expect(counts[0]?.n).toBe(expected.length)
  })

  it('rotates the master key: data keys rewrapped at once; the old master key is then no longer needed', async () => {
    const tenant = 'rot_master'
    await t.store.tenant(tenant).encryption.enable()
    await t.store.tenant(tenant).recordTurn(turnInput('m0', 1, { userMessage: 'under master k1' }))
    const k2 = `k2:${newKey()}`
    await withMasterKey(t, `${k2},${MASTER}`, async (s) => {
      const w = (async () => {
        for (let i = 0; i < 10; i++)
          await s.tenant(tenant).recordTurn(turnInput('m0', 10 + i, { userMessage: `during ${i}` }))
      })()
      const r = await s.tenant(tenant).encryption.rotate({ masterOnly: true })
      await w
      expect(r.status.keys).toMatchObject([{ version: 1, masterKeyId: 'k2', state: 'active' }])
    })
    // Only the new master key now: everything reads.
    await withMasterKey(t, k2, async (s) => {
      const page = await s.tenant(tenant).history('m0', { order: 'asc', limit: 50 })
      expect(page.turns.map((x) => x.userMessage)).toEqual([
        'under master k1',
        ...Array.from({ length: 10 }, (_, i) => `during ${i}`),
      ])
    })
    // The old one alone opens nothing any more: a clear error.
    await withMasterKey(t, MASTER, async (s) => {
      await expect(s.tenant(tenant).history('m0')).rejects.toThrow(/holds no key with id k2/)
    })
    // Rewrapping without the old key listed: refused, nothing changed.
    await withMasterKey(t, `k3:${newKey()}`, async (s) => {
      await expect(s.tenant(tenant).encryption.rotate({ masterOnly: true })).rejects.toThrow(
        /wrapped by master key k2, which ROBOT_BRAIN_MASTER_KEY does not hold/,
      )
    })
    const [row] = await t.ownerQuery<{ master_key_id: string }>(
      `SELECT master_key_id FROM robot_brain.tenant_data_keys WHERE tenant_id = $1`,
      [tenant],
    )
    expect(row?.master_key_id).toBe('k2')
  })

  it('shreds a tenant: its content unreadable with a clear error, recorded in a verifiable audit log', async () => {
    const tenant = 'shred_me'
    const s = t.store.tenant(tenant).as('key:admin-test')
    await s.encryption.enable()
    await s.putSession('x0', { userMetadata: { secret: 'gone soon' } })
    await s.recordTurn(turnInput('x0', 1))
    const status = await s.encryption.shred()
    expect(status).toMatchObject({ state: 'shredded', keyVersion: null })
    expect(status.keys.every((k) => k.state === 'destroyed')).toBe(true)
    const keys = await t.ownerQuery<{ wrapped_key: Buffer | null }>(
      `SELECT wrapped_key FROM robot_brain.tenant_data_keys WHERE tenant_id = $1`,
      [tenant],
    )
    expect(keys.map((k) => k.wrapped_key)).toEqual([null])
    await expect(s.history('x0')).rejects.toMatchObject({
      code: 'content_shredded',
      status: 410,
      message: expect.stringMatching(/tenant shred_me was crypto-shredded/),
    })
    await expect(s.getSession('x0')).rejects.toMatchObject({ code: 'content_shredded' })
    await expect(s.recordTurn(turnInput('x0', 2))).rejects.toMatchObject({ code: 'content_shredded' })
    // In a fresh process too (nothing cached).
    await withMasterKey(t, MASTER, async (o) => {
      await expect(o.tenant(tenant).history('x0')).rejects.toMatchObject({ code: 'content_shredded' })
    })
    // (On PGlite the store was reopened above: act through the current one.)
    const current = t.store.tenant(tenant).as('key:admin-test')
    const audit = await t.store.tenant(tenant).audit.list()
    expect(audit.events.map((e) => e.action)).toEqual(['encryption.enable', 'encryption.shred'])
    expect(audit.events[1]).toMatchObject({ actor: 'key:admin-test', details: { keysDestroyed: 1 } })
    expect((await verifyAudit(t.store.transport.owner)).ok).toBe(true)
    // Enable again: a new key for new content; the old stays unreadable.
    const again = await current.encryption.enable()
    expect(again.status).toMatchObject({ state: 'on', keyVersion: 2 })
    await current.recordTurn(turnInput('x1', 3, { userMessage: 'after the shred' }))
    expect((await current.history('x1')).turns[0]?.userMessage).toBe('after the shred')
    await expect(current.history('x0')).rejects.toMatchObject({ code: 'content_shredded' })
    // Shredding a tenant never encrypted: refused, naming why.
    await expect(t.store.tenant('never_enc').encryption.shred()).rejects.toThrow(/is not encrypted/)
  })
})
