// Column-level encryption per tenant, against a real database: the database holds no plain text of an
// encrypted tenant's turns or userMetadata, reads give back what was written, a ciphertext moved to
// another row or tenant does not decrypt, a missing or wrong master key writes nothing, enabling a
// tenant with turns runs in resumable batches, and search says what it cannot do.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exportData } from '../../src/lifecycle/export.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'
import { newKey as key, MASTER, withMasterKey } from './encryption-support.js'

const TIMEOUT = 240_000
describe(`encryption (${backend})`, () => {
  let t: TestStore
  beforeAll(async () => {
    t = await openTestStore('security_encryption', { options: { masterKey: MASTER } })
  }, TIMEOUT)
  afterAll(async () => {
    await t?.cleanup()
  })

  it('stores no plain text of an encrypted tenant, and reads give back what was written', async () => {
    const acme = t.store.tenant('enc_acme')
    const enabled = await acme.encryption.enable()
    expect(enabled.status).toMatchObject({ state: 'on', keyVersion: 1, semanticSearch: false, job: null })
    const session = await acme.putSession('s1', {
      userId: 'u1',
      userMetadata: { secretPlan: 'orbit the moon' },
    })
    expect(session.userMetadata).toEqual({ secretPlan: 'orbit the moon' })
    const turns = []
    for (let i = 0; i < 5; i++) {
      turns.push(
        await acme.recordTurn(
          turnInput('s1', i, {
            userMessage: `my password is hunter${i}`,
            robotResponse: `noted hunter${i} ✓`,
          }),
        ),
      )
    }
    const pending = await acme.recordTurn(
      turnInput('s1', 9, { userMessage: 'answer later please', robotResponse: null }),
    )
    const completed = await acme.completeTurn('s1', pending.id, { robotResponse: 'later answer, secret' })
    expect(completed.robotResponse).toBe('later answer, secret')
    const merged = await acme.updateSessionMetadata('s1', { mood: 'calm' })
    expect(merged.userMetadata).toEqual({ secretPlan: 'orbit the moon', mood: 'calm' })

    const raw = await t.ownerQuery<{
      user_message: string
      robot_response: string
      search_vector: string | null
    }>(
      `SELECT user_message, robot_response, search_vector::text FROM robot_brain.conversations WHERE tenant_id = 'enc_acme'`,
    )
    expect(raw).toHaveLength(6)
    for (const r of raw) {
      expect(r.user_message).toMatch(/^rbenc1:1:/)
      expect(r.robot_response).toMatch(/^rbenc1:1:/)
      expect(r.search_vector).toBeNull()
    }
    const dump = JSON.stringify(
      await t.ownerQuery(`SELECT to_jsonb(c) FROM robot_brain.conversations c WHERE tenant_id = 'enc_acme'
                          UNION ALL SELECT to_jsonb(s) FROM robot_brain.sessions s WHERE tenant_id = 'enc_acme'`),
    )
    for (const secret of ['hunter', 'password', 'secret', 'orbit', 'calm', 'later'])
      expect(dump).not.toContain(secret)

    const history = await acme.history('s1', { order: 'asc' })
    expect(history.turns.map((x) => x.userMessage)).toEqual([
      ...turns.map((x) => x.userMessage),
      'answer later please',
    ])
    expect(history.turns[0]?.robotResponse).toBe('noted hunter0 ✓')
    const messages = await acme.messages('s1')
    expect(messages.messages.at(-1)).toMatchObject({ role: 'assistant', content: 'later answer, secret' })
    expect((await acme.getSession('s1')).userMetadata).toEqual({ secretPlan: 'orbit the moon', mood: 'calm' })
    expect((await acme.listSessions()).sessions[0]?.userMetadata).toEqual({
      secretPlan: 'orbit the moon',
      mood: 'calm',
    })
    // A replay of a stored turn compares plain texts.
    const replay = await acme.recordTurnResult({
      ...turnInput('s1', 0),
      id: turns[0]?.id,
      userMessage: 'my password is hunter0',
      robotResponse: 'noted hunter0 ✓',
    })
    expect(replay.created).toBe(false)
    await expect(
      acme.recordTurn({ ...turnInput('s1', 0), id: turns[0]?.id, userMessage: 'other' }),
    ).rejects.toThrow(/userMessage/)
    // Users export reads through the store: plain.
    const records: unknown[] = []
    for await (const record of await acme.users.export('u1')) records.push(record)
    expect(JSON.stringify(records)).toContain('hunter3')
    expect(JSON.stringify(records)).toContain('orbit the moon')
    // The export command's reader (as the owner) opens them too; without the opener, ciphertext as stored.
    let exported = ''
    const write = async (chunk: string) => {
      exported += chunk
    }
    await exportData(t.store.transport.owner, {
      filters: { tenant: 'enc_acme' },
      write,
      open: t.store.contentOpener(),
    })
    expect(exported).toContain('my password is hunter4')
    expect(exported).toContain('orbit the moon')
    exported = ''
    await exportData(t.store.transport.owner, { filters: { tenant: 'enc_acme' }, write })
    expect(exported).not.toContain('hunter')
    // Other tenants are untouched.
    const plain = await t.store.tenant('enc_plain').recordTurn(turnInput('p1', 1))
    const [p] = await t.ownerQuery<{ user_message: string }>(
      `SELECT user_message FROM robot_brain.conversations WHERE id = $1`,
      [plain.id],
    )
    expect(p?.user_message).toBe('user message 1')
  })

  it('refuses a ciphertext copied to another row, field or tenant', async () => {
    const a = t.store.tenant('enc_move_a')
    const b = t.store.tenant('enc_move_b')
    await a.encryption.enable()
    await b.encryption.enable()
    const t1 = await a.recordTurn(turnInput('m1', 1))
    const t2 = await a.recordTurn(turnInput('m1', 2))
    const t3 = await b.recordTurn(turnInput('m2', 3))
    // As the owner (no trigger stops it: the owner can write anything), move ciphertexts around.
    // (The database's guard lets it through: it is ciphertext of the tenant's current key version.)
    await t.ownerQuery(
      `UPDATE robot_brain.conversations SET user_message = (SELECT user_message FROM robot_brain.conversations WHERE id = $1)
       WHERE id = $2`,
      [t1.id, t2.id],
    )
    await expect(a.history('m1')).rejects.toMatchObject({ code: 'content_unreadable' })
    await expect(a.history('m1')).rejects.toThrow(new RegExp(`turn ${t2.id} of tenant enc_move_a`))
    // Another tenant's ciphertext of the same version: its key differs, and the tenant is bound anyway.
    await t.ownerQuery(
      `UPDATE robot_brain.conversations SET robot_response = (SELECT robot_response FROM robot_brain.conversations WHERE id = $1)
       WHERE id = $2`,
      [t1.id, t3.id],
    )
    await expect(b.history('m2')).rejects.toMatchObject({ code: 'content_unreadable' })
    // The user message put in the response field of its own row.
    const t4 = await a.recordTurn(turnInput('m3', 4))
    await t.ownerQuery(`UPDATE robot_brain.conversations SET robot_response = user_message WHERE id = $1`, [
      t4.id,
    ])
    await expect(a.history('m3')).rejects.toMatchObject({ code: 'content_unreadable' })
  })

  it('gives a clear error and writes nothing without the master key or with a wrong one', async () => {
    const tenant = 'enc_keys'
    await t.store.tenant(tenant).encryption.enable()
    await t.store.tenant(tenant).recordTurn(turnInput('k1', 1))
    const before = await t.counts()
    await withMasterKey(t, undefined, async (s) => {
      await expect(s.tenant(tenant).recordTurn(turnInput('k1', 2))).rejects.toMatchObject({
        code: 'encryption_key_unavailable',
        message: expect.stringMatching(/ROBOT_BRAIN_MASTER_KEY is not set/),
      })
      await expect(s.tenant(tenant).history('k1')).rejects.toMatchObject({
        code: 'encryption_key_unavailable',
      })
      await expect(s.tenant('enc_other').encryption.enable()).rejects.toThrow(
        /no master key: set ROBOT_BRAIN_MASTER_KEY/,
      )
      // A plain tenant needs no master key.
      await s.tenant('enc_plain').history('p1')
    })
    const wrong = `k1:${key()}`
    await withMasterKey(t, wrong, async (s) => {
      const err = await s
        .tenant(tenant)
        .putSession('k1', { userMetadata: { a: 1 } })
        .catch((e) => e)
      expect(err).toMatchObject({ code: 'encryption_key_unavailable' })
      expect(err.message).toMatch(/wrong key for this id/)
      expect(err.message).not.toContain(wrong.slice(3))
    })
    await withMasterKey(t, `k2:${key()}`, async (s) => {
      await expect(s.tenant(tenant).recordTurn(turnInput('k1', 3))).rejects.toThrow(/holds no key with id k1/)
    })
    await withMasterKey(t, 'k1:not-a-key', async (s) => {
      await expect(s.tenant(tenant).recordTurn(turnInput('k1', 4))).rejects.toThrow(
        /entry 1 \(id k1\): the key must be 32 bytes/,
      )
    })
    expect(await t.counts()).toEqual(before)
    expect((await t.store.tenant(tenant).getSession('k1')).userMetadata).toEqual({})
    expect(
      await t.ownerQuery(`SELECT 1 FROM robot_brain.tenant_encryption WHERE tenant_id = 'enc_other'`),
    ).toHaveLength(0)
  })

  it('refuses plain text in an encrypted tenant in the database itself (a stale writer)', async () => {
    const s = t.store.tenant('enc_guard')
    await s.recordTurn(turnInput('g1', 1)) // caches the tenant as plain
    // Another process enables it: here, directly in the tables; this process still thinks plain.
    await withMasterKey(t, MASTER, async (other) => {
      await other.tenant('enc_guard').encryption.enable()
    })
    const store = t.store.tenant('enc_guard')
    const turn = await store.recordTurn(turnInput('g1', 2, { userMessage: 'stale but sealed' }))
    expect(turn.userMessage).toBe('stale but sealed')
    const raw = await t.ownerQuery<{ user_message: string }>(
      `SELECT user_message FROM robot_brain.conversations WHERE tenant_id = 'enc_guard'`,
    )
    expect(raw.every((r) => r.user_message.startsWith('rbenc1:'))).toBe(true)
    await expect(
      t.ownerQuery(
        `INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, created_at)
         VALUES ('enc_guard', gen_random_uuid(), 'g1', 'x', 'plain!', now())`,
      ),
    ).rejects.toMatchObject({ code: 'RB4E1' })
  })

  it('encrypts a tenant with turns in resumable batches, and reads stay right meanwhile', async () => {
    const s = t.store.tenant('enc_backfill')
    for (let i = 0; i < 25; i++) await s.recordTurn(turnInput(`b${i % 3}`, i))
    await s.putSession('b0', { userMetadata: { plan: 'backfilled plan' } })
    const first = await s.encryption.enable({ batchSize: 10, maxBatches: 2 })
    expect(first.finished).toBe(false)
    expect(first.turns).toBe(20)
    expect(first.status.job).toMatchObject({ kind: 'enable', phase: 'turns', turns: 20 })
    // Half done: both kinds of rows read right; new turns are sealed.
    await s.recordTurn(turnInput('b1', 100, { userMessage: 'written mid-way' }))
    const mid = await s.history('b1', { order: 'asc', limit: 100 })
    expect(mid.turns.map((x) => x.userMessage)).toContain('user message 1')
    expect(mid.turns.at(-1)?.userMessage).toBe('written mid-way')
    // Resumed (a new call, as after a crash): finishes.
    const rest = await s.encryption.enable({ batchSize: 10 })
    expect(rest.finished).toBe(true)
    expect(rest.status.job).toBeNull()
    expect(rest.turns).toBe(5)
    expect(rest.sessions).toBe(1)
    const raw = await t.ownerQuery<{ user_message: string }>(
      `SELECT user_message FROM robot_brain.conversations WHERE tenant_id = 'enc_backfill'`,
    )
    expect(raw).toHaveLength(26)
    expect(raw.filter((r) => !r.user_message.startsWith('rbenc1:1:'))).toEqual([])
    const [meta] = await t.ownerQuery<{ m: string }>(
      `SELECT user_metadata::text AS m FROM robot_brain.sessions WHERE tenant_id = 'enc_backfill' AND id = 'b0'`,
    )
    expect(meta?.m).not.toContain('backfilled')
    const all = await s.history('b0', { order: 'asc', limit: 100 })
    expect(all.turns.map((x) => x.userMessage)).toEqual(
      [0, 3, 6, 9, 12, 15, 18, 21, 24].map((i) => `user message ${i}`),
    )
    expect((await s.getSession('b0')).userMetadata).toEqual({ plan: 'backfilled plan' })
  })

  it('answers search on an encrypted tenant with a clear error, semantic only by opt-in', async () => {
    const s = t.store.tenant('enc_acme')
    await expect(s.search({ query: 'hunter', mode: 'fulltext' })).rejects.toMatchObject({
      code: 'validation_failed',
      message: expect.stringMatching(
        /^mode: fulltext search is not available for tenant enc_acme: its content is encrypted/,
      ),
    })
    await expect(s.search({ query: 'hunter' })).rejects.toThrow(/semantic search needs the tenant's opt-in/)
    await expect(s.search({ query: 'hunter', mode: 'semantic' })).rejects.toThrow(/opt-in/)
    const on = await s.encryption.enable({ semanticSearch: true })
    expect(on.status.semanticSearch).toBe(true)
    await expect(s.search({ query: 'hunter', mode: 'hybrid' })).rejects.toThrow(/use mode 'semantic'/)
  })
})
