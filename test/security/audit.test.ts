// The audit log: append-only for the application role (no privilege) and for everyone else (a
// trigger, the owner included), one hash chain per tenant that concurrent appends cannot fork, and a
// verifier that names the first bad entry when an owner who disabled the trigger edited, removed or
// reordered entries. `audit verify` exits 1 then.
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KeyStore } from '../../src/keys/keys.js'
import { checkSavedHeads, verifyAudit } from '../../src/security/audit-verify.js'
import { cli, dbEnv, ensureBuilt } from '../cli/cli.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'

const TIMEOUT = 240_000

describe(`audit log (${backend})`, () => {
  let t: TestStore
  beforeAll(async () => {
    t = await openTestStore('security_audit')
  }, TIMEOUT)
  afterAll(async () => {
    await t?.cleanup()
  })

  it('records entries in a per-tenant chain the verifier accepts, and lists them oldest first with a cursor', async () => {
    const acme = t.store.tenant('acme').as('key:test')
    for (let i = 0; i < 5; i++) {
      await acme.audit.record({
        action: 'archive.month',
        target: `month:2026-0${i + 1}`,
        details: { rows: i },
      })
    }
    await t.store.tenant('globex').audit.record({ action: 'encryption.rotate', details: { keys: 1 } })
    const first = await acme.audit.list({ limit: 3 })
    expect(first.events.map((e) => e.target)).toEqual(['month:2026-01', 'month:2026-02', 'month:2026-03'])
    expect(first.events[0]).toMatchObject({
      actor: 'key:test',
      action: 'archive.month',
      details: { rows: 0 },
    })
    const second = await acme.audit.list({ limit: 3, cursor: first.nextCursor })
    expect(second.events.map((e) => e.target)).toEqual(['month:2026-04', 'month:2026-05'])
    expect(second.nextCursor).toBeNull()
    // Tenants apart: globex sees only its own entry.
    expect((await t.store.tenant('globex').audit.list()).events.map((e) => e.action)).toEqual([
      'encryption.rotate',
    ])
    const result = await verifyAudit(t.store.transport.owner)
    expect(result.ok).toBe(true)
    expect(result.heads.map((h) => [h.tenant, h.seq])).toEqual([
      ['acme', 5],
      ['globex', 1],
    ])
  })

  it('refuses bad entries with the field named', async () => {
    const acme = t.store.tenant('acme')
    await expect(acme.audit.record({ action: 'Not An Action' })).rejects.toThrow(/action/)
    await expect(acme.audit.record({ action: 'x.y', details: [] as never })).rejects.toThrow(/details/)
    await expect(acme.audit.list({ cursor: 'nope' })).rejects.toThrow(/cursor/)
  })

  it('records session deletions, key creation and revocation', async () => {
    const acme = t.store.tenant('acme').as('key:deleter')
    await acme.recordTurn({
      sessionId: 'gone-1',
      robotPersonality: 'calm',
      userMessage: 'secret words',
      robotResponse: 'ok',
    })
    await acme.deleteSession('gone-1')
    const keys = new KeyStore(t.store.transport.owner)
    const key = await keys.create('acme', 'ci', { scope: 'read' })
    await keys.revoke(key.id)
    const events = (await acme.audit.list({ limit: 1000 })).events
    expect(events.slice(-3).map((e) => [e.actor, e.action, e.target])).toEqual([
      ['key:deleter', 'session.delete', 'session:gone-1'],
      ['owner', 'key.create', `key:${key.id}`],
      ['owner', 'key.revoke', `key:${key.id}`],
    ])
    // No content in the log.
    expect(JSON.stringify(events)).not.toContain('secret words')
  })

  it('never forks a chain under concurrent appends', async () => {
    const s = t.store.tenant('busy')
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => s.audit.record({ action: 'test.concurrent', details: { i } })),
    )
    const seqs = await t.ownerQuery<{ seq: string }>(
      "SELECT seq::text AS seq FROM robot_brain.audit_log WHERE tenant_id = 'busy' ORDER BY audit_log.seq",
    )
    expect(seqs.map((r) => Number(r.seq))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    // Small pages: the walk carries a chain across page boundaries.
    expect((await verifyAudit(t.store.transport.owner, { pageSize: 7 })).ok).toBe(true)
  })

  it('gives the application role no UPDATE, DELETE or TRUNCATE, and refuses them to the owner by trigger', async () => {
    const app = t.store.transport.app
    for (const sql of [
      "UPDATE robot_brain.audit_log SET action = 'x'",
      'DELETE FROM robot_brain.audit_log',
      'TRUNCATE robot_brain.audit_log',
    ]) {
      await expect(app.query(sql), sql).rejects.toMatchObject({ code: '42501' })
      await expect(t.ownerQuery(sql), sql).rejects.toThrow(/append-only/)
    }
  })

  describe('tampering as the owner, with the trigger disabled', () => {
    const tamper = async (sql: string) => {
      await t.ownerQuery('ALTER TABLE robot_brain.audit_log DISABLE TRIGGER audit_log_append_only')
      try {
        await t.ownerQuery(sql)
      } finally {
        await t.ownerQuery('ALTER TABLE robot_brain.audit_log ENABLE TRIGGER audit_log_append_only')
      }
    }
    const rows = (tenant: string) =>
      t.ownerQuery<{ seq: string; id: string }>(
        'SELECT seq::text AS seq, id::text AS id FROM robot_brain.audit_log WHERE tenant_id = $1 ORDER BY audit_log.seq',
        [tenant],
      )
    const chain = async (tenant: string, n: number) => {
      const s = t.store.tenant(tenant)
      for (let i = 0; i < n; i++) await s.audit.record({ action: 'test.entry', details: { i } })
      return rows(tenant)
    }
    const problemOf = async (tenant: string) =>
      (await verifyAudit(t.store.transport.owner)).problems.find((p) => p.tenant === tenant)

    it('an edited entry is named', async () => {
      const before = await chain('edit', 4)
      await tamper(
        `UPDATE robot_brain.audit_log SET details = '{"i": 99}' WHERE tenant_id = 'edit' AND seq = 2`,
      )
      expect(await problemOf('edit')).toMatchObject({
        seq: 2,
        id: before[1]?.id,
        problem: expect.stringMatching(/edited/),
      })
    })

    it('an edited entry whose hash was recomputed breaks the next link', async () => {
      await chain('rehash', 4)
      await tamper(`UPDATE robot_brain.audit_log SET actor = 'someone else',
          hash = robot_brain.audit_entry_hash(tenant_id, seq, id, at, 'someone else', action, target, details, prev_hash)
        WHERE tenant_id = 'rehash' AND seq = 2`)
      expect(await problemOf('rehash')).toMatchObject({ seq: 3, problem: expect.stringMatching(/link/) })
    })

    it('a removed entry is named by the gap it leaves', async () => {
      await chain('remove', 4)
      await tamper("DELETE FROM robot_brain.audit_log WHERE tenant_id = 'remove' AND seq = 2")
      expect(await problemOf('remove')).toMatchObject({
        seq: 3,
        problem: expect.stringMatching(/missing|removed/),
      })
    })

    it('reordered entries are named', async () => {
      await chain('reorder', 4)
      // Swap positions 2 and 3 (through a free number: the primary key holds during the statements).
      await tamper(`UPDATE robot_brain.audit_log SET seq = 1000 WHERE tenant_id = 'reorder' AND seq = 2;
                    UPDATE robot_brain.audit_log SET seq = 2 WHERE tenant_id = 'reorder' AND seq = 3;
                    UPDATE robot_brain.audit_log SET seq = 3 WHERE tenant_id = 'reorder' AND seq = 1000`)
      expect(await problemOf('reorder')).toMatchObject({ seq: 2 })
    })

    let savedHead: { tenant: string; seq: number; hash: string } | undefined
    it('removed newest entries are found against a head saved earlier', async () => {
      await chain('tail', 3)
      const head = (await verifyAudit(t.store.transport.owner)).heads.find((h) => h.tenant === 'tail')
      expect(head?.seq).toBe(3)
      savedHead = head
      await tamper("DELETE FROM robot_brain.audit_log WHERE tenant_id = 'tail' AND seq = 3")
      // The chain alone still looks whole...
      const now = await verifyAudit(t.store.transport.owner)
      expect(now.problems.find((p) => p.tenant === 'tail')).toBeUndefined()
      // ...but the saved head is gone.
      await checkSavedHeads(t.store.transport.owner, now, [head as NonNullable<typeof head>])
      expect(now.ok).toBe(false)
      expect(now.problems.find((p) => p.tenant === 'tail')).toMatchObject({
        seq: 3,
        problem: expect.stringMatching(/gone/),
      })
    })

    it(
      '`audit verify` exits 1 naming the first bad entry of each broken chain',
      async () => {
        await ensureBuilt()
        // PGlite allows one process at a time on a data directory.
        if (backend === 'pglite') await t.store.close()
        try {
          const bad = await cli(['audit', 'verify'], dbEnv(t.db))
          expect(bad.code, bad.stderr).toBe(1)
          expect(bad.stderr).toMatch(/bad entry: tenant "edit" position 2/)
          expect(bad.stdout).toMatch(/ALTERED/)
          const json = await cli(['audit', 'verify', '--json'], dbEnv(t.db))
          expect(json.code).toBe(1)
          expect(
            JSON.parse(json.stdout)
              .problems.map((p: { tenant: string }) => p.tenant)
              .sort(),
          ).toEqual(['edit', 'rehash', 'remove', 'reorder'])
          const headsFile = join(tmpdir(), `rbdb-heads-${process.pid}.json`)
          writeFileSync(headsFile, JSON.stringify({ heads: [savedHead] }))
          const anchored = await cli(['audit', 'verify', '--json', '--heads', headsFile], dbEnv(t.db))
          expect(anchored.code).toBe(1)
          expect(JSON.parse(anchored.stdout).problems.map((p: { tenant: string }) => p.tenant)).toContain(
            'tail',
          )
        } finally {
          if (backend === 'pglite') await t.reopen()
        }
      },
      TIMEOUT,
    )
  })
})
