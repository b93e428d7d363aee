// Tenant isolation: through the API, and with raw SQL as the runtime role (row-level security).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConflictError, NotFoundError } from '../../src/errors.js'
import { newId } from '../../src/store/ids.js'
import type { Store } from '../../src/store/store.js'
import type { Turn } from '../../src/store/types.js'
import { PG_HOST, PG_PORT, rawPg, runtimeRoleOf, TEST_APP_ROLE } from '../support/backend.js'
import { backend, openTestStore, serverBackend, type TestStore, turnInput } from '../support/store.js'

const RLS_VIOLATION = '42501' // insufficient_privilege: also what a WITH CHECK policy failure raises

/** A raw SQL session as the runtime role: a member login role, or SET ROLE on PGlite's connection. */
interface RuntimeSession {
  query<R = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>
  close(): Promise<void>
}

async function runtimeSession(t: TestStore): Promise<RuntimeSession> {
  if (serverBackend) {
    const client = await rawPg(`postgres://${TEST_APP_ROLE}@${PG_HOST}:${PG_PORT}/${t.db.name}`)
    return {
      query: async <R>(text: string, values?: unknown[]) => {
        const r = await client.query(text, values)
        return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 }
      },
      close: () => client.end(),
    }
  }
  // PGlite has one connection and one (superuser) login: act as the runtime role on it, and leave
  // it as found. Store calls must wait until close(): the connection is held.
  const client = await t.store.transport.owner.connect()
  await client.query(`SET ROLE ${runtimeRoleOf(t.db)}`)
  return {
    query: async <R>(text: string, values?: unknown[]) => {
      const r = await client.query<R>({ text, values })
      return { rows: r.rows, rowCount: r.rowCount ?? 0 }
    },
    close: async () => {
      await client.query('ROLLBACK').catch(() => {})
      await client.query("RESET ROLE; SELECT set_config('app.tenant_id', '', false)")
      client.release()
    },
  }
}

async function sqlError(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err, 'expected the statement to fail').toBeDefined()
  return err as { code?: string; message: string }
}

describe(`tenant isolation (${backend})`, () => {
  let t: TestStore
  let a: Store
  let b: Store
  const bTurns: Turn[] = []
  const aTurns: Turn[] = []

  beforeAll(async () => {
    t = await openTestStore('tenants')
    a = t.store.tenant('tenant-a')
    b = t.store.tenant('tenant-b')
    for (let i = 0; i < 3; i++) bTurns.push(await b.recordTurn(turnInput('b-only', i)))
    for (let i = 0; i < 2; i++) bTurns.push(await b.recordTurn(turnInput('shared', 10 + i)))
    for (let i = 0; i < 4; i++) aTurns.push(await a.recordTurn(turnInput('shared', 20 + i)))
    aTurns.push(await a.recordTurn(turnInput('a-only', 30)))
    await b.updateSessionMetadata('b-only', { owner: 'b' })
    await t.store.recordTurn(turnInput('default-session', 0))
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('through the API', () => {
    it('history, getSession and listSessions show only the own tenant', async () => {
      expect((await a.history('b-only')).turns).toEqual([])
      expect((await a.history('shared')).turns.map((x) => x.id).sort()).toEqual(
        aTurns
          .filter((x) => x.sessionId === 'shared')
          .map((x) => x.id)
          .sort(),
      )
      await expect(a.getSession('b-only')).rejects.toBeInstanceOf(NotFoundError)
      expect((await a.getSession('shared')).messageCount).toBe(4)
      expect((await b.getSession('shared')).messageCount).toBe(2)
      expect((await a.listSessions()).sessions.map((s) => s.id).sort()).toEqual(['a-only', 'shared'])
      expect((await b.listSessions()).sessions.map((s) => s.id).sort()).toEqual(['b-only', 'shared'])
      expect((await t.store.listSessions()).sessions.map((s) => s.id)).toEqual(['default-session'])
      expect(t.store.tenantId).toBe('default')
    })

    it('cannot change or delete another tenant’s sessions', async () => {
      await expect(a.updateSessionMetadata('b-only', { owner: 'a' })).rejects.toBeInstanceOf(NotFoundError)
      await expect(a.deleteSession('b-only')).rejects.toBeInstanceOf(NotFoundError)
      expect(await b.getSession('b-only')).toMatchObject({ userMetadata: { owner: 'b' }, messageCount: 3 })
      expect((await b.history('b-only')).turns).toHaveLength(3)
    })

    it('replaying another tenant’s turn id stores the own turn and reveals nothing', async () => {
      const theirs = bTurns[0] as Turn
      const mine = await a.recordTurnResult(
        turnInput('b-only', 99, { id: theirs.id, createdAt: theirs.createdAt, userMessage: 'mine' }),
      )
      expect(mine.created).toBe(true)
      expect(mine.turn.userMessage).toBe('mine')
      expect(mine.turn.robotResponse).not.toBe(theirs.robotResponse)
      const again = await a.recordTurnResult(
        turnInput('b-only', 99, { id: theirs.id, createdAt: theirs.createdAt, userMessage: 'mine' }),
      )
      expect(again).toEqual({ created: false, turn: mine.turn })
      // Sent with B's content, the id conflicts with A's own turn only, and the error shows no text.
      const err = await a
        .recordTurnResult(turnInput('b-only', 0, { id: theirs.id, createdAt: theirs.createdAt }))
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConflictError)
      expect((err as Error).message).not.toContain(theirs.userMessage)
      expect((err as Error).message).not.toContain('mine')
      expect((await b.history('b-only')).turns).toContainEqual(theirs)
      expect((await b.getSession('b-only')).messageCount).toBe(3)
      await a.deleteSession('b-only') // A's own session of that name
      expect((await b.getSession('b-only')).messageCount).toBe(3)
    })

    it('deleting a session deletes only the own tenant’s session of that id', async () => {
      await a.recordTurn(turnInput('twin', 0))
      await b.recordTurn(turnInput('twin', 0))
      await a.deleteSession('twin')
      await expect(a.getSession('twin')).rejects.toBeInstanceOf(NotFoundError)
      expect((await b.getSession('twin')).messageCount).toBe(1)
      expect((await b.history('twin')).turns).toHaveLength(1)
    })

    it('statistics and interactions are per tenant', async () => {
      await t.store.refreshSessionStats()
      expect((await a.sessionStats()).map((s) => s.sessionId).sort()).toEqual(['a-only', 'shared'])
      expect(await a.sessionStats({ sessionId: 'twin' })).toEqual([])
      expect((await b.sessionStats({ sessionId: 'shared' }))[0]?.messageCount).toBe(2)
      const id = newId()
      const ev = { id, robotId: 'r1', interactionType: 'wave', durationMs: 5, success: true }
      expect((await a.recordInteractions([ev])).inserted).toBe(1)
      expect((await b.recordInteractions([ev])).inserted).toBe(1) // another tenant's id space
      expect((await a.recordInteractions([ev])).inserted).toBe(0)
      const rows = await t.ownerQuery<{ tenant_id: string }>(
        'SELECT tenant_id FROM robot_brain.robot_interactions WHERE id = $1 ORDER BY tenant_id',
        [id],
      )
      expect(rows.map((r) => r.tenant_id)).toEqual(['tenant-a', 'tenant-b'])
    })
  })

  describe('with raw SQL as the runtime role', () => {
    it('the store itself runs as a role that row-level security applies to', async () => {
      await a.getSession('shared') // decides the role
      const { rows } = await t.store.transport.app.query<{
        u: string
        su: boolean
        bypass: boolean
        member: boolean
      }>(
        `SELECT current_user AS u, r.rolsuper AS su, r.rolbypassrls AS bypass,
                pg_has_role(current_user, '${runtimeRoleOf(t.db)}', 'MEMBER') AS member
         FROM pg_roles r WHERE r.rolname = current_user`,
      )
      expect(rows[0]).toMatchObject({ su: false, bypass: false, member: true })
    })

    it('sees nothing without a tenant, only the set tenant’s rows with one, and cannot write for another', async () => {
      const expected = await t.ownerQuery<{ tenant_id: string; s: number; c: number; i: number }>(
        `SELECT t.tenant_id,
                (SELECT count(*)::int FROM robot_brain.sessions s WHERE s.tenant_id = t.tenant_id) AS s,
                (SELECT count(*)::int FROM robot_brain.conversations c WHERE c.tenant_id = t.tenant_id) AS c,
                (SELECT count(*)::int FROM robot_brain.robot_interactions i WHERE i.tenant_id = t.tenant_id) AS i
         FROM (VALUES ('tenant-a'), ('tenant-b')) AS t(tenant_id) ORDER BY 1`,
      )
      const [ea, eb] = expected
      expect(ea?.c).toBeGreaterThan(0)
      expect(eb?.c).toBeGreaterThan(0)
      const all = await t.counts()

      const counts = `SELECT (SELECT count(*)::int FROM robot_brain.sessions) AS s,
                             (SELECT count(*)::int FROM robot_brain.conversations) AS c,
                             (SELECT count(*)::int FROM robot_brain.robot_interactions) AS i`
      const sql = await runtimeSession(t)
      try {
        expect((await sql.query(counts)).rows[0]).toEqual({ s: 0, c: 0, i: 0 })
        expect(
          (await sql.query('SELECT count(*)::int AS n FROM robot_brain.tenant_session_stats')).rows[0],
        ).toEqual({ n: 0 })

        await sql.query("SELECT set_config('app.tenant_id', 'tenant-a', false)")
        expect((await sql.query(counts)).rows[0]).toEqual({ s: ea?.s, c: ea?.c, i: ea?.i })
        const tenants = await sql.query<{ tenant_id: string }>(
          'SELECT DISTINCT tenant_id FROM robot_brain.conversations UNION SELECT DISTINCT tenant_id FROM robot_brain.sessions',
        )
        expect(tenants.rows).toEqual([{ tenant_id: 'tenant-a' }])
        const stats = await sql.query<{ tenant_id: string }>(
          'SELECT DISTINCT tenant_id FROM robot_brain.tenant_session_stats',
        )
        expect(stats.rows).toEqual([{ tenant_id: 'tenant-a' }])

        // Writing rows of tenant B while acting for A is refused by the policies' WITH CHECK.
        const insertSession = await sqlError(
          sql.query("INSERT INTO robot_brain.sessions (tenant_id, id) VALUES ('tenant-b', 'sneaky')"),
        )
        expect(insertSession.code).toBe(RLS_VIOLATION)
        expect(insertSession.message).toMatch(/row-level security/)
        const insertTurn = await sqlError(
          sql.query(
            `INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
             VALUES ('tenant-b', $1, 'shared', 'p', 'u', 'r', now())`,
            [newId()],
          ),
        )
        expect(insertTurn.code).toBe(RLS_VIOLATION)
        const insertEvent = await sqlError(
          sql.query(
            `INSERT INTO robot_brain.robot_interactions (tenant_id, id, robot_id, interaction_type, duration_ms, success, created_at)
             VALUES ('tenant-b', $1, 'r', 't', 1, true, now())`,
            [newId()],
          ),
        )
        expect(insertEvent.code).toBe(RLS_VIOLATION)
        const moveToB = await sqlError(
          sql.query("UPDATE robot_brain.sessions SET tenant_id = 'tenant-b' WHERE id = 'a-only'"),
        )
        expect(moveToB.code).toBe(RLS_VIOLATION)

        // B's rows cannot be touched: updates and deletes match nothing.
        expect(
          (
            await sql.query(
              "UPDATE robot_brain.sessions SET user_metadata = '{}' WHERE tenant_id = 'tenant-b'",
            )
          ).rowCount,
        ).toBe(0)
        expect(
          (await sql.query("DELETE FROM robot_brain.conversations WHERE tenant_id = 'tenant-b'")).rowCount,
        ).toBe(0)
        await sql.query('BEGIN')
        expect((await sql.query('DELETE FROM robot_brain.sessions')).rowCount).toBe(ea?.s)
        await sql.query('ROLLBACK')

        // The runtime role cannot go around the policies: the view's source and the partitions are closed.
        for (const table of ['session_stats', 'conversations_default', 'robot_interactions_default']) {
          expect((await sqlError(sql.query(`SELECT count(*) FROM robot_brain.${table}`))).code, table).toBe(
            RLS_VIOLATION,
          )
        }
        const partitionsAhead = await sqlError(sql.query('SELECT robot_brain.ensure_partitions(1)'))
        expect(partitionsAhead.code).toBe(RLS_VIOLATION)
      } finally {
        await sql.close()
      }
      // Nothing above changed anything.
      expect(await t.counts()).toEqual(all)
      expect((await b.getSession('b-only')).userMetadata).toEqual({ owner: 'b' })
    })
  })

  it('row-level security is enabled and forced on every tenant table; partitions are closed to the app', async () => {
    const tables = await t.ownerQuery<{
      name: string
      kind: string
      partition: boolean
      rls: boolean
      forced: boolean
      app: boolean
    }>(
      `SELECT c.relname AS name, c.relkind::text AS kind, c.relispartition AS partition,
              c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
              has_table_privilege('${runtimeRoleOf(t.db)}', c.oid, 'SELECT, INSERT, UPDATE, DELETE') AS app
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'robot_brain' AND c.relkind IN ('r', 'p')
         AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
       ORDER BY 1`,
    )
    // The tables of tenant data: policies, enabled and forced (the owner is subject too).
    const data = tables.filter((x) => ['conversations', 'robot_interactions', 'sessions'].includes(x.name))
    expect(data).toHaveLength(3)
    for (const x of data) {
      expect({ name: x.name, rls: x.rls, forced: x.forced }).toEqual({
        name: x.name,
        rls: true,
        forced: true,
      })
    }
    // Every other table with a tenant_id (partitions, read directly, skip the parent's policies; tables
    // looked up before a tenant is known) is either under forced row-level security or closed to the app.
    const others = tables.filter((x) => !data.includes(x))
    expect(others.filter((x) => x.partition).length).toBeGreaterThanOrEqual(10)
    for (const x of others) {
      expect({ name: x.name, open: x.app && !(x.rls && x.forced) }).toEqual({ name: x.name, open: false })
    }
    const policies = await t.ownerQuery<{ tablename: string }>(
      "SELECT tablename FROM pg_policies WHERE schemaname = 'robot_brain' AND policyname = 'tenant_isolation' ORDER BY 1",
    )
    expect(policies.map((p) => p.tablename)).toEqual(
      expect.arrayContaining(['conversations', 'robot_interactions', 'sessions']),
    )
  })

  it('partitions exist for this month and the next three, plus a default', async () => {
    const now = new Date()
    const months = [0, 1, 2, 3].map((i) => {
      const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + i, 1))
      return `p${d.toISOString().slice(0, 7).replace('-', '_')}`
    })
    for (const parent of ['conversations', 'robot_interactions']) {
      const rows = await t.ownerQuery<{ child: string }>(
        `SELECT c.relname AS child FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [`robot_brain.${parent}`],
      )
      expect(rows.map((r) => r.child)).toEqual(
        expect.arrayContaining([`${parent}_default`, ...months.map((m) => `${parent}_${m}`)]),
      )
    }
  })
})
