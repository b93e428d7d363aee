// Sessions created before their first turn (putSession), owned by a user, listed by user; and
// sessionStats, exact whether or not the statistics view was refreshed since the last change.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError, ValidationError } from '../../src/errors.js'
import type { Store } from '../../src/store/store.js'
import type { SessionStats } from '../../src/store/types.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const field = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ValidationError)
  return (err as ValidationError).field
}

describe(`session users and statistics (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('session_users')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  describe('putSession', () => {
    it('creates a session before its first turn, then updates it; turns count into it', async () => {
      const before = Date.now()
      const created = await store.putSessionResult('put-1', {
        userId: 'user-ada',
        userMetadata: { plan: 'pro' },
      })
      expect(created.created).toBe(true)
      expect(created.session).toMatchObject({
        id: 'put-1',
        userId: 'user-ada',
        userMetadata: { plan: 'pro' },
        messageCount: 0,
      })
      expect(Date.parse(created.session.createdAt)).toBeGreaterThanOrEqual(before - 60_000)
      expect(await store.getSession('put-1')).toEqual(created.session)

      // Replaces userMetadata when given; a field left out keeps its value.
      const updated = await store.putSessionResult('put-1', { userMetadata: { lang: 'fr' } })
      expect(updated.created).toBe(false)
      expect(updated.session).toMatchObject({ userId: 'user-ada', userMetadata: { lang: 'fr' } })
      expect((await store.putSession('put-1', {})).userMetadata).toEqual({ lang: 'fr' })
      expect((await store.putSession('put-1', { userId: null })).userId).toBeNull()
      await store.putSession('put-1', { userId: 'user-ada' })

      const turn = await store.recordTurn(turnInput('put-1', 1))
      const session = await store.getSession('put-1')
      expect(session).toMatchObject({ userId: 'user-ada', userMetadata: { lang: 'fr' }, messageCount: 1 })
      expect(session.createdAt).toBe(created.session.createdAt)
      expect(Date.parse(session.lastActive)).toBeGreaterThanOrEqual(Date.parse(turn.createdAt))
      // A PUT after turns keeps the count.
      expect((await store.putSession('put-1', { userMetadata: {} })).messageCount).toBe(1)
    })

    it('a turn carrying userId sets the user of a session that has none, and never changes it', async () => {
      await store.recordTurn(turnInput('turn-user', 1, { userId: 'user-bob' }))
      expect((await store.getSession('turn-user')).userId).toBe('user-bob')
      await store.recordTurn(turnInput('turn-user', 2, { userId: 'user-eve' }))
      expect((await store.getSession('turn-user')).userId).toBe('user-bob')
      await store.recordTurn(turnInput('turn-user', 3))
      expect((await store.getSession('turn-user')).userId).toBe('user-bob')
      // Changing the user is explicit.
      expect((await store.updateSession('turn-user', { userId: 'user-eve' })).userId).toBe('user-eve')
      expect((await store.getSession('turn-user')).messageCount).toBe(3)
    })

    it('updateSession sets the user and merges metadata in one step; a missing session is NotFoundError', async () => {
      await store.putSession('upd', { userMetadata: { a: 1, b: 2 } })
      const s = await store.updateSession('upd', { userId: 'user-cy', userMetadata: { b: 3 } })
      expect(s).toMatchObject({ userId: 'user-cy', userMetadata: { a: 1, b: 3 } })
      expect((await store.updateSession('upd', { userMetadata: { c: 4 } })).userMetadata).toEqual({
        a: 1,
        b: 3,
        c: 4,
      })
      expect((await store.updateSession('upd', { userId: null })).userId).toBeNull()
      await expect(store.updateSession('upd-missing', { userId: 'u' })).rejects.toThrow(NotFoundError)
      await expect(store.updateSession('upd-missing', { userMetadata: { a: 1 } })).rejects.toThrow(
        NotFoundError,
      )
      expect(await field(store.updateSession('upd', {}))).toBe('userMetadata')
    })

    it('validates userId like an id: 1 to 100 characters, no control characters', async () => {
      expect(await field(store.putSession('v', { userId: '' }))).toBe('userId')
      expect(await field(store.putSession('v', { userId: 'u'.repeat(101) }))).toBe('userId')
      expect(await field(store.putSession('v', { userId: 'a\nb' }))).toBe('userId')
      expect(await field(store.putSession('v', { userMetadata: [] as never }))).toBe('userMetadata')
      expect(await field(store.recordTurn(turnInput('v', 1, { userId: 5 as never })))).toBe('userId')
      expect(await field(store.listSessions({ userId: '' }))).toBe('userId')
      expect((await store.putSession('v', { userId: '用户-🤖'.padEnd(100, 'x') })).userId).toHaveLength(100)
      await expect(store.getSession('v')).resolves.toBeTruthy()
    })
  })

  describe('listSessions by userId', () => {
    it("pages one user's sessions, most recently active first, and no one else's", async () => {
      const base = Date.parse('2026-03-01T00:00:00Z')
      const mine: string[] = []
      for (let i = 0; i < 5; i++) {
        const id = `lu-mine-${i}`
        mine.push(id)
        await store.recordTurn(
          turnInput(id, i, { userId: 'user-list', createdAt: new Date(base + i * 60_000).toISOString() }),
        )
        await store.recordTurn(
          turnInput(`lu-other-${i}`, i, {
            userId: 'user-else',
            createdAt: new Date(base + i * 60_000).toISOString(),
          }),
        )
      }
      await store.putSession('lu-mine-empty', { userId: 'user-list' })
      const seen: string[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const page = await store.listSessions({ userId: 'user-list', limit: 2, cursor })
        seen.push(...page.sessions.map((s) => s.id))
        for (const s of page.sessions) expect(s.userId).toBe('user-list')
        cursor = page.nextCursor
        pages++
        expect(pages, 'paging did not end').toBeLessThan(10)
      } while (cursor)
      // The session made by PUT is the most recently active (now).
      expect(seen).toEqual(['lu-mine-empty', ...[...mine].reverse()])
      const since = await store.listSessions({
        userId: 'user-list',
        activeSince: new Date(base + 3 * 60_000).toISOString(),
      })
      expect(since.sessions.map((s) => s.id)).toEqual(['lu-mine-empty', 'lu-mine-4', 'lu-mine-3'])
      expect((await store.listSessions({ userId: 'user-nobody' })).sessions).toEqual([])
      expect((await store.tenant('other').listSessions({ userId: 'user-list' })).sessions).toEqual([])
    })
  })

  describe('sessionStats', () => {
    const statsOf = async (sessionId: string): Promise<SessionStats | undefined> => {
      const one = await store.sessionStats({ sessionId })
      const listed = (await store.sessionStats({ limit: 10_000 })).find((s) => s.sessionId === sessionId)
      expect(listed).toEqual(one[0])
      return one[0]
    }

    it('answers sessions the view has not seen yet, and stays exact through changes and refreshes', async () => {
      const a = await store.recordTurn(turnInput('st-1', 1, { userMessage: 'abcd', robotResponse: 'xy' }))
      // Never refreshed since: not an empty list.
      expect(await statsOf('st-1')).toEqual({
        sessionId: 'st-1',
        messageCount: 1,
        firstMessage: a.createdAt,
        lastMessage: a.createdAt,
        avgResponseLength: 2,
        avgUserMessageLength: 4,
      })
      await store.refreshSessionStats()
      expect((await statsOf('st-1'))?.messageCount).toBe(1)
      // A turn after the refresh: counted at once, not the view's outdated figures.
      const b = await store.recordTurn(turnInput('st-1', 2, { userMessage: 'ab', robotResponse: null }))
      expect(await statsOf('st-1')).toMatchObject({
        messageCount: 2,
        lastMessage: b.createdAt,
        avgResponseLength: 2,
        avgUserMessageLength: 3,
      })
      await store.refreshSessionStats()
      // Completing the pending turn changes the average answer length.
      await store.completeTurn('st-1', b.id, { robotResponse: 'wxyz' })
      expect(await statsOf('st-1')).toMatchObject({ messageCount: 2, avgResponseLength: 3 })
      await store.refreshSessionStats()
      expect(await statsOf('st-1')).toMatchObject({ messageCount: 2, avgResponseLength: 3 })
      // Deleting a turn too.
      await store.deleteTurn('st-1', a.id)
      expect(await statsOf('st-1')).toMatchObject({
        messageCount: 1,
        firstMessage: b.createdAt,
        avgResponseLength: 4,
        avgUserMessageLength: 2,
      })
      await store.refreshSessionStats()
      expect(await statsOf('st-1')).toMatchObject({ messageCount: 1, avgResponseLength: 4 })
    })

    it('a session with only a pending turn has no average answer length; a session without turns is not listed', async () => {
      await store.recordTurn(turnInput('st-pending', 1, { robotResponse: null }))
      expect(await statsOf('st-pending')).toMatchObject({ messageCount: 1, avgResponseLength: null })
      await store.putSession('st-empty')
      expect(await store.sessionStats({ sessionId: 'st-empty' })).toEqual([])
      expect(await store.sessionStats({ sessionId: 'st-missing' })).toEqual([])
    })
  })
})
