// A turn id is one turn across every partition (migration 0009): a replay stores nothing new, also
// with another createdAt (another month), also when replays race on separate connections or land in
// one group-commit batch or one statement, and whatever path inserts the row.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runOnlineSteps } from '../../src/db/online-steps.js'
import { newId } from '../../src/store/ids.js'
import { openStore, type Store } from '../../src/store/store.js'
import { insertTurns, type NewTurn } from '../../src/store/turns.js'
import {
  backend,
  openTestStore,
  serverBackend,
  storeOptions,
  type TestStore,
  turnInput,
} from '../support/store.js'

const MONTHS = ['2024-01-10T10:00:00.000Z', '2025-06-20T12:00:00.000Z', '2026-02-03T04:05:06.789Z']

describe(`turn ids across partitions (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('replay-ids')
    store = t.store
    for (const m of MONTHS)
      await t.ownerQuery("SELECT robot_brain.ensure_month_partition('conversations', $1::date)", [m])
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const rowsOf = async (id: string) =>
    (
      await t.ownerQuery<{ n: number; k: number }>(
        `SELECT (SELECT count(*)::int FROM robot_brain.conversations WHERE id = $1) AS n,
                (SELECT count(*)::int FROM robot_brain.turn_ids WHERE id = $1) AS k`,
        [id],
      )
    )[0]

  it('a replay with a createdAt in another month stores nothing and answers the stored turn', async () => {
    const id = newId()
    const first = await store.recordTurnResult(turnInput('moved-month', 1, { id, createdAt: MONTHS[0] }))
    expect(first.created).toBe(true)
    for (const createdAt of [MONTHS[1], MONTHS[2], undefined]) {
      const again = await store.recordTurnResult(turnInput('moved-month', 1, { id, createdAt }))
      expect(again).toEqual({ created: false, turn: first.turn })
    }
    expect(await rowsOf(id)).toEqual({ n: 1, k: 1 })
    expect((await store.getSession('moved-month')).messageCount).toBe(1)
  })

  it('replays racing on separate connections, each with another createdAt, store one row', async () => {
    // Without group commit, each call is a statement of its own; on a server each store has its own
    // connections, so the statements really run at once and meet in the id's unique index.
    const stores = serverBackend
      ? await Promise.all(
          [0, 1, 2].map(() => openStore(storeOptions(t.db, { groupCommit: { enabled: false } }))),
        )
      : [store]
    try {
      for (let round = 0; round < 3; round++) {
        const id = randomUUID()
        const sessionId = `race-${round}`
        const results = await Promise.all(
          Array.from({ length: 9 }, (_, i) =>
            (stores[i % stores.length] as Store).recordTurnResult(
              turnInput(sessionId, 1, { id, createdAt: MONTHS[i % MONTHS.length] }),
            ),
          ),
        )
        expect(results.filter((r) => r.created)).toHaveLength(1)
        for (const r of results) expect(r.turn).toEqual(results.find((x) => x.created)?.turn)
        expect(await rowsOf(id)).toEqual({ n: 1, k: 1 })
        expect((await store.getSession(sessionId)).messageCount).toBe(1)
      }
    } finally {
      if (serverBackend) await Promise.all(stores.map((s) => s.close()))
    }
  })

  it('two turns of one id in one group-commit batch store one', async () => {
    const id = newId()
    const [a, b] = await Promise.all([
      store.recordTurnResult(turnInput('same-batch', 1, { id, createdAt: MONTHS[0] })),
      store.recordTurnResult(turnInput('same-batch', 1, { id, createdAt: MONTHS[2] })),
    ])
    expect([a?.created, b?.created].sort()).toEqual([false, true])
    expect(a?.turn).toEqual(b?.turn)
    expect(await rowsOf(id)).toEqual({ n: 1, k: 1 })
    expect((await store.getSession('same-batch')).messageCount).toBe(1)
  })

  it('two rows of one id in one statement: the database keeps the first', async () => {
    await store.history('same-statement') // the store decides its role first
    const id = randomUUID()
    const turn = (createdAt: string): NewTurn => ({
      id,
      sessionId: 'same-statement',
      robotPersonality: 'friendly',
      userMessage: 'hello',
      robotResponse: 'hi',
      metadata: {},
      createdAt: new Date(createdAt),
      userId: null,
    })
    const written = await insertTurns(store.transport.app, store.tenantId, [
      turn(MONTHS[1] as string),
      turn(MONTHS[0] as string),
    ])
    expect(written).toHaveLength(1)
    expect(written[0]?.created_at).toEqual(new Date(MONTHS[1] as string))
    expect(await rowsOf(id)).toEqual({ n: 1, k: 1 })
    expect((await store.getSession('same-statement')).messageCount).toBe(1)
  })

  it('another path that inserts a stored id with another createdAt is refused', async () => {
    const first = await store.recordTurn(turnInput('other-path', 1, { createdAt: MONTHS[1] }))
    const insert = (createdAt: string) =>
      t.ownerQuery(
        `INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
         VALUES ('default', $1, 'other-path', 'friendly', 'copy', 'copy', $2)`,
        [first.id, createdAt],
      )
    await expect(insert(MONTHS[2] as string)).rejects.toMatchObject({ code: '23505' })
    expect(await rowsOf(first.id)).toEqual({ n: 1, k: 1 })
    // The same key again is the primary key's business: a duplicate key, not a second row.
    await expect(insert(first.createdAt)).rejects.toMatchObject({ code: '23505' })
    // A new id through the same path is keyed.
    const [row] = await t.ownerQuery<{ id: string }>(
      `INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
       VALUES ('default', gen_random_uuid(), 'other-path', 'friendly', 'copy', 'copy', $1) RETURNING id::text`,
      [MONTHS[0]],
    )
    expect(await rowsOf(row?.id as string)).toEqual({ n: 1, k: 1 })
  })

  it('a deleted turn gives its id back', async () => {
    const first = await store.recordTurn(turnInput('deleted', 1, { createdAt: MONTHS[0] }))
    await store.deleteTurn('deleted', first.id)
    expect(await rowsOf(first.id)).toEqual({ n: 0, k: 0 })
    const again = await store.recordTurnResult(
      turnInput('deleted', 2, { id: first.id, createdAt: MONTHS[2] }),
    )
    expect(again.created).toBe(true)
    expect(await rowsOf(first.id)).toEqual({ n: 1, k: 1 })
  })

  it('turns stored before 0009 are found in the partitions until the backfill keys them', async () => {
    const old = await store.recordTurn(turnInput('before-0009', 1, { createdAt: MONTHS[0] }))
    const older = await store.recordTurn(turnInput('before-0009', 2, { createdAt: MONTHS[1] }))
    // As a database just migrated to 0009 looks: no keys for its turns, the backfill not run.
    await t.ownerQuery('DELETE FROM robot_brain.turn_ids WHERE id = ANY ($1::uuid[])', [[old.id, older.id]])
    await t.ownerQuery(
      `CREATE OR REPLACE FUNCTION robot_brain.turn_ids_complete() RETURNS boolean
       LANGUAGE sql STABLE AS $$ SELECT false $$`,
    )
    await t.ownerQuery('DELETE FROM robot_brain.schema_online_steps WHERE version = 9')
    const replay = await store.recordTurnResult(
      turnInput('before-0009', 1, { id: old.id, createdAt: MONTHS[2] }),
    )
    expect(replay).toEqual({ created: false, turn: old })
    expect(await rowsOf(old.id)).toEqual({ n: 1, k: 0 })
    // Another path inserting an unkeyed id: its older row is keyed first, so the statement is refused.
    await expect(
      t.ownerQuery(
        `INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
         VALUES ('default', $1, 'before-0009', 'friendly', 'copy', 'copy', $2)`,
        [older.id, MONTHS[2]],
      ),
    ).rejects.toMatchObject({ code: '23505' })
    expect(await rowsOf(older.id)).toEqual({ n: 1, k: 0 })

    expect(await runOnlineSteps(store.transport.owner, { concurrently: serverBackend, batchSize: 3 })).toBe(
      true,
    )
    const [state] = await t.ownerQuery<{ missing: number; complete: boolean }>(
      `SELECT (SELECT count(*)::int FROM robot_brain.conversations c
                WHERE NOT EXISTS (SELECT FROM robot_brain.turn_ids k
                                  WHERE k.tenant_id = c.tenant_id AND k.id = c.id AND k.created_at = c.created_at)) AS missing,
              robot_brain.turn_ids_complete() AS complete`,
    )
    expect(state).toEqual({ missing: 0, complete: true })
    const late = await store.recordTurnResult(
      turnInput('before-0009', 2, { id: older.id, createdAt: MONTHS[2] }),
    )
    expect(late).toEqual({ created: false, turn: older })
    expect((await store.getSession('before-0009')).messageCount).toBe(2)
  })
})
