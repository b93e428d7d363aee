// Turns stored before the robot answers (streamed replies), completed later without double counting;
// one turn deleted with messageCount kept exact, also under concurrency.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConflictError, NotFoundError, type ValidationError } from '../../src/errors.js'
import { newId } from '../../src/store/ids.js'
import type { Store } from '../../src/store/store.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

describe(`pending turns and deleting one turn (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('pending')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  /** messageCount as the store says, and as counted in the database. */
  const counts = async (sessionId: string) => {
    const [row] = await t.ownerQuery<{ n: number; m: number }>(
      `SELECT (SELECT count(*)::int FROM robot_brain.conversations WHERE session_id = $1) AS n,
              (SELECT message_count FROM robot_brain.sessions WHERE id = $1) AS m`,
      [sessionId],
    )
    return { api: (await store.getSession(sessionId)).messageCount, rows: row?.n, column: row?.m }
  }

  describe('completeTurn', () => {
    it('stores a turn without its answer, adds the answer later, and counts the turn once', async () => {
      const pending = await store.recordTurn(
        turnInput('stream', 1, { robotResponse: undefined, metadata: { channel: 'web' } }),
      )
      expect(pending.robotResponse).toBeNull()
      expect(await counts('stream')).toEqual({ api: 1, rows: 1, column: 1 })
      expect((await store.history('stream')).turns).toEqual([pending])

      const done = await store.completeTurn('stream', pending.id, {
        robotResponse: 'Here is the answer 🤖',
        metadata: { model: 'x-1', tokens: 12 },
      })
      expect(done).toEqual({
        ...pending,
        robotResponse: 'Here is the answer 🤖',
        metadata: { channel: 'web', model: 'x-1', tokens: 12 },
      })
      expect(await counts('stream')).toEqual({ api: 1, rows: 1, column: 1 })
      expect((await store.history('stream')).turns).toEqual([done])

      // The same answer again (a retried request) is a no-op; another answer is a conflict.
      expect(
        await store.completeTurn('stream', pending.id, { robotResponse: 'Here is the answer 🤖' }),
      ).toEqual(done)
      expect(
        await store.completeTurn('stream', pending.id, {
          robotResponse: 'Here is the answer 🤖',
          metadata: { model: 'x-1' },
        }),
      ).toEqual(done)
      await expect(store.completeTurn('stream', pending.id, { robotResponse: 'Another' })).rejects.toThrow(
        ConflictError,
      )
      await expect(
        store.completeTurn('stream', pending.id, {
          robotResponse: 'Here is the answer 🤖',
          metadata: { model: 'y' },
        }),
      ).rejects.toThrow(ConflictError)
      expect((await store.history('stream')).turns).toEqual([done])
      expect(await counts('stream')).toEqual({ api: 1, rows: 1, column: 1 })
    })

    it('a null robotResponse is a pending turn too; its replay matches it, also once completed', async () => {
      const id = newId()
      const input = turnInput('stream-replay', 1, { id, robotResponse: null })
      const first = await store.recordTurnResult(input)
      expect(first.created).toBe(true)
      expect(await store.recordTurnResult(input)).toEqual({ created: false, turn: first.turn })
      const done = await store.completeTurn('stream-replay', id, { robotResponse: 'done' })
      // A late retry of the original request finds the answered turn: the same turn, not a conflict.
      expect(await store.recordTurnResult(input)).toEqual({ created: false, turn: done })
      // Sending the full turn under that id with another answer is a conflict.
      await expect(
        store.recordTurn(turnInput('stream-replay', 1, { id, robotResponse: 'other' })),
      ).rejects.toThrow(ConflictError)
      expect(await counts('stream-replay')).toEqual({ api: 1, rows: 1, column: 1 })
    })

    it('a full turn sent under the id of a pending one is a conflict pointing at completeTurn', async () => {
      const id = newId()
      await store.recordTurn(turnInput('stream-full', 1, { id, robotResponse: null }))
      const err = await store
        .recordTurn(turnInput('stream-full', 1, { id, robotResponse: 'answer' }))
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ConflictError)
      expect((err as Error).message).toMatch(/robotResponse.*completeTurn/)
    })

    it('concurrent completions with different answers: exactly one wins', async () => {
      const pending = await store.recordTurn(turnInput('stream-race', 1, { robotResponse: null }))
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          store.completeTurn('stream-race', pending.id, { robotResponse: `answer ${i}` }),
        ),
      )
      const won = results.filter((r) => r.status === 'fulfilled')
      expect(won).toHaveLength(1)
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError)
      const [stored] = (await store.history('stream-race')).turns
      expect(stored?.robotResponse).toBe(
        (won[0] as PromiseFulfilledResult<{ robotResponse: string }>).value.robotResponse,
      )
    })

    it('an unknown turn, or a turn of another session or tenant, is NotFoundError; bad input names the field', async () => {
      const pending = await store.recordTurn(turnInput('stream-nf', 1, { robotResponse: null }))
      await expect(store.completeTurn('stream-nf', newId(), { robotResponse: 'x' })).rejects.toThrow(
        NotFoundError,
      )
      await expect(store.completeTurn('stream-other', pending.id, { robotResponse: 'x' })).rejects.toThrow(
        NotFoundError,
      )
      await expect(
        store.tenant('other').completeTurn('stream-nf', pending.id, { robotResponse: 'x' }),
      ).rejects.toThrow(NotFoundError)
      const field = async (p: Promise<unknown>) =>
        ((await p.catch((e: unknown) => e)) as ValidationError).field
      expect(await field(store.completeTurn('stream-nf', 'not-a-uuid', { robotResponse: 'x' }))).toBe(
        'turnId',
      )
      expect(await field(store.completeTurn('stream-nf', pending.id, {} as never))).toBe('robotResponse')
      expect(await field(store.completeTurn('stream-nf', pending.id, { robotResponse: 'a\u0000b' }))).toBe(
        'robotResponse',
      )
      expect(
        await field(
          store.completeTurn('stream-nf', pending.id, { robotResponse: 'x', metadata: [] as never }),
        ),
      ).toBe('metadata')
      // Metadata that would outgrow 16 KiB once merged is refused, and the turn stays pending.
      const big = { a: 'x'.repeat(9000) }
      const bigger = await store.recordTurn(turnInput('stream-nf', 2, { robotResponse: null, metadata: big }))
      expect(
        await field(
          store.completeTurn('stream-nf', bigger.id, {
            robotResponse: 'x',
            metadata: { b: 'y'.repeat(9000) },
          }),
        ),
      ).toBe('metadata')
      expect((await store.history('stream-nf', { limit: 1 })).turns[0]?.robotResponse).toBeNull()
      expect((await store.getSession('stream-nf')).messageCount).toBe(2)
    })
  })

  describe('deleteTurn', () => {
    it('deletes one turn, keeping messageCount exact; a second delete is NotFoundError', async () => {
      const turns = await Promise.all([1, 2, 3].map((i) => store.recordTurn(turnInput('del-one', i))))
      await store.deleteTurn('del-one', (turns[1] as { id: string }).id)
      expect(await counts('del-one')).toEqual({ api: 2, rows: 2, column: 2 })
      expect((await store.history('del-one')).turns.map((x) => x.id).sort()).toEqual(
        [turns[0]?.id, turns[2]?.id].sort(),
      )
      await expect(store.deleteTurn('del-one', (turns[1] as { id: string }).id)).rejects.toThrow(
        NotFoundError,
      )
      // Another session's or tenant's turn is not found, and nothing moves.
      await expect(store.deleteTurn('del-elsewhere', (turns[0] as { id: string }).id)).rejects.toThrow(
        NotFoundError,
      )
      await expect(
        store.tenant('other').deleteTurn('del-one', (turns[0] as { id: string }).id),
      ).rejects.toThrow(NotFoundError)
      expect(await counts('del-one')).toEqual({ api: 2, rows: 2, column: 2 })
      const err = await store.deleteTurn('del-one', 'nope').catch((e: unknown) => e)
      expect((err as ValidationError).field).toBe('turnId')
      // Deleting every turn leaves the session, at zero.
      for (const x of [turns[0], turns[2]]) await store.deleteTurn('del-one', (x as { id: string }).id)
      expect(await counts('del-one')).toEqual({ api: 0, rows: 0, column: 0 })
    })

    it('concurrent deletes of the same turns and new turns keep the count exact', async () => {
      const turns = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.recordTurn(turnInput('del-race', i))),
      )
      const victims = turns.slice(0, 10)
      const work = [
        // Each victim deleted three times at once: one succeeds, two find nothing.
        ...victims.flatMap((v) =>
          [0, 1, 2].map(() =>
            store.deleteTurn('del-race', v.id).then(
              () => 'deleted',
              (e: unknown) => (e instanceof NotFoundError ? 'absent' : Promise.reject(e)),
            ),
          ),
        ),
        ...Array.from({ length: 15 }, (_, i) =>
          store.recordTurn(turnInput('del-race', 100 + i)).then(() => 'added'),
        ),
      ]
      const outcomes = await Promise.all(work)
      expect(outcomes.filter((o) => o === 'deleted')).toHaveLength(10)
      expect(outcomes.filter((o) => o === 'absent')).toHaveLength(20)
      expect(await counts('del-race')).toEqual({ api: 25, rows: 25, column: 25 })
    })
  })
})
