// statement_timeout reaches the hot single statements on every server transport (startup parameter on
// a direct connection, the login role's per-database default behind PgBouncer) without touching the
// owner's sessions, and withTransaction sets it per transaction with SET LOCAL.
import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withTransaction } from '../../src/db/pool.js'
import { newId } from '../../src/store/ids.js'
import { rawPg } from '../support/backend.js'
import { backend, openTestStore, serverBackend, type TestStore, turnInput } from '../support/store.js'

const TIMEOUT_MS = 400

describe.skipIf(!serverBackend)(`statement_timeout (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    t = await openTestStore('stmt_timeout', { options: { statementTimeoutMs: TIMEOUT_MS } })
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('cancels a recordTurn blocked on a lock after the timeout, as a final (not retried) error', async () => {
    const sessionId = `locked-${newId()}`
    await t.store.recordTurn(turnInput(sessionId, 1))
    // The owner holds the session row: the turn's upsert waits on it until statement_timeout fires.
    const locker: pg.Client = await rawPg(t.db.ownerUrl)
    try {
      await locker.query('BEGIN')
      await locker.query('SELECT 1 FROM robot_brain.sessions WHERE id = $1 FOR UPDATE', [sessionId])
      const started = Date.now()
      const err = await t.store.recordTurn(turnInput(sessionId, 2)).then(
        () => null,
        (e: unknown) => e as { code?: string },
      )
      const elapsed = Date.now() - started
      expect(err?.code).toBe('57014')
      // One attempt, not a retry loop until the 5 s budget.
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50)
      expect(elapsed).toBeLessThan(3_000)
    } finally {
      await locker.query('ROLLBACK').catch(() => {})
      await locker.end()
    }
    const [row] = await t.ownerQuery<{ n: number; mc: number }>(
      `SELECT (SELECT count(*)::int FROM robot_brain.conversations WHERE session_id = $1) AS n,
              (SELECT message_count FROM robot_brain.sessions WHERE id = $1) AS mc`,
      [sessionId],
    )
    expect(row).toEqual({ n: 1, mc: 1 })
  })

  it('leaves the owner (migrations, maintenance) without a timeout', async () => {
    const { rows } = await t.store.transport.owner.query<{ statement_timeout: string }>(
      'SHOW statement_timeout',
    )
    expect(rows[0]?.statement_timeout).toBe('0')
  })

  it('sets a per-transaction timeout with SET LOCAL in withTransaction, gone after COMMIT', async () => {
    const err = await withTransaction(t.store.transport.owner, (c) => c.query('SELECT pg_sleep(2)'), {
      statementTimeoutMs: 200,
    }).then(
      () => null,
      (e: unknown) => e as { code?: string },
    )
    expect(err?.code).toBe('57014')
    const inside = await withTransaction(
      t.store.transport.owner,
      (c) => c.query<{ statement_timeout: string }>('SHOW statement_timeout'),
      { statementTimeoutMs: 1500 },
    )
    expect(inside.rows[0]?.statement_timeout).toBe('1500ms')
    const after = await t.store.transport.owner.query<{ statement_timeout: string }>('SHOW statement_timeout')
    expect(after.rows[0]?.statement_timeout).toBe('0')
  })
})
