// Sessions: get, list (keyset cursor, activeSince), metadata merge, delete with every turn.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError, ValidationError } from '../../src/errors.js'
import type { Store } from '../../src/store/store.js'
import type { Session } from '../../src/store/types.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

async function listAll(store: Store, limit: number, activeSince?: string): Promise<Session[]> {
  const all: Session[] = []
  let cursor: string | null = null
  for (let i = 0; i < 1000; i++) {
    const page = await store.listSessions({ limit, cursor, activeSince })
    expect(page.sessions.length).toBeLessThanOrEqual(limit)
    all.push(...page.sessions)
    if (!page.nextCursor) return all
    cursor = page.nextCursor
  }
  throw new Error('listSessions paging did not end')
}

describe(`sessions (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('sessions')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('getSession returns counts and times; a missing session is NotFoundError', async () => {
    const a = await store.recordTurn(turnInput('get-me', 1, { createdAt: '2026-04-01T10:00:00.000Z' }))
    const b = await store.recordTurn(turnInput('get-me', 2, { createdAt: '2026-04-01T10:05:00.000Z' }))
    // An older turn arriving late moves nothing backwards.
    await store.recordTurn(turnInput('get-me', 3, { createdAt: '2026-04-01T09:00:00.000Z' }))
    expect(await store.getSession('get-me')).toEqual({
      id: 'get-me',
      userId: null,
      userMetadata: {},
      createdAt: a.createdAt,
      lastActive: b.createdAt,
      messageCount: 3,
    })
    const err = await store.getSession('missing').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as NotFoundError).status).toBe(404)
  })

  it('updateSessionMetadata merges top-level keys', async () => {
    await store.recordTurn(turnInput('meta', 1))
    const first = await store.updateSessionMetadata('meta', { plan: 'pro', prefs: { lang: 'fr' }, n: 1 })
    expect(first.userMetadata).toEqual({ plan: 'pro', prefs: { lang: 'fr' }, n: 1 })
    const second = await store.updateSessionMetadata('meta', {
      prefs: { theme: 'dark' },
      n: null,
      名前: '花子',
    })
    expect(second.userMetadata).toEqual({ plan: 'pro', prefs: { theme: 'dark' }, n: null, 名前: '花子' })
    expect((await store.getSession('meta')).userMetadata).toEqual(second.userMetadata)
    expect(second.messageCount).toBe(1)
    // An empty patch changes nothing.
    expect((await store.updateSessionMetadata('meta', {})).userMetadata).toEqual(second.userMetadata)
    await expect(store.updateSessionMetadata('no-such-session', { a: 1 })).rejects.toBeInstanceOf(
      NotFoundError,
    )
    const [row] = await t.ownerQuery<{ n: number }>(
      "SELECT count(*)::int AS n FROM robot_brain.sessions WHERE id = 'no-such-session'",
    )
    expect(row?.n).toBe(0)
  })

  describe('listSessions', () => {
    let listed: Session[]

    beforeAll(async () => {
      // A tenant of its own, so the other tests' sessions do not interfere.
      const lister = store.tenant('lister')
      const base = Date.parse('2026-05-01T00:00:00.000Z')
      for (let i = 0; i < 14; i++) {
        await lister.recordTurn(
          turnInput(`list-${String(i).padStart(2, '0')}`, i, { createdAt: new Date(base + i * 60_000) }),
        )
      }
      // Three sessions tied on lastActive: the order falls back to id.
      for (const id of ['tie-b', 'tie-a', 'tie-c']) {
        await lister.recordTurn(turnInput(id, 0, { createdAt: new Date(base + 7 * 60_000) }))
      }
      listed = [
        ...(await Promise.all(
          [...Array(14).keys()].map((i) => lister.getSession(`list-${String(i).padStart(2, '0')}`)),
        )),
        ...(await Promise.all(['tie-a', 'tie-b', 'tie-c'].map((id) => lister.getSession(id)))),
      ].sort((a, b) =>
        a.lastActive === b.lastActive ? (a.id < b.id ? 1 : -1) : a.lastActive < b.lastActive ? 1 : -1,
      )
    })

    it('pages most recently active first, ties by id, each session once', async () => {
      const lister = store.tenant('lister')
      for (const limit of [1, 4, 17, 50]) {
        expect(await listAll(lister, limit)).toEqual(listed)
      }
      const first = await lister.listSessions({ limit: 3 })
      expect(first.sessions).toEqual(listed.slice(0, 3))
      expect(first.nextCursor).toEqual(expect.any(String))
    })

    it('activeSince keeps sessions active at or after it, with and without a cursor', async () => {
      const lister = store.tenant('lister')
      const since = '2026-05-01T00:07:00.000Z'
      const expected = listed.filter((s) => s.lastActive >= since)
      expect(expected.length).toBeGreaterThan(3)
      expect(expected.length).toBeLessThan(listed.length)
      expect(await listAll(lister, 2, since)).toEqual(expected)
      expect((await lister.listSessions({ activeSince: new Date(since) })).sessions).toEqual(expected)
      expect((await lister.listSessions({ activeSince: '2030-01-01T00:00:00Z' })).sessions).toEqual([])
    })

    it('a session that becomes active moves to the front', async () => {
      const lister = store.tenant('lister')
      await lister.recordTurn(turnInput('list-00', 99, { createdAt: '2026-05-02T00:00:00.000Z' }))
      const page = await lister.listSessions({ limit: 1 })
      expect(page.sessions[0]).toMatchObject({ id: 'list-00', messageCount: 2 })
    })

    it('rejects a cursor it did not make', async () => {
      const err = await store.listSessions({ cursor: '%%%' }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).field).toBe('cursor')
    })
  })

  describe('deleteSession', () => {
    it('removes the session and all its turns, and nothing else', async () => {
      for (let i = 0; i < 5; i++) await store.recordTurn(turnInput('doomed', i))
      const kept = await Promise.all([0, 1, 2].map((i) => store.recordTurn(turnInput('kept', i))))
      // A neighbour with a long history in several partitions.
      await store.recordTurn(turnInput('doomed', 9, { createdAt: '2019-01-01T00:00:00Z' }))
      const before = await t.counts()
      await store.deleteSession('doomed')
      await expect(store.getSession('doomed')).rejects.toBeInstanceOf(NotFoundError)
      expect(await store.history('doomed')).toEqual({ turns: [], nextCursor: null })
      const [left] = await t.ownerQuery<{ n: number }>(
        "SELECT count(*)::int AS n FROM robot_brain.conversations WHERE session_id = 'doomed'",
      )
      expect(left?.n).toBe(0)
      expect(await t.counts()).toEqual({
        ...before,
        sessions: before.sessions - 1,
        conversations: before.conversations - 6,
      })
      expect((await store.history('kept')).turns.map((x) => x.id).sort()).toEqual(
        kept.map((x) => x.id).sort(),
      )
      expect((await store.getSession('kept')).messageCount).toBe(3)
    })

    it('a missing session is NotFoundError, also the second time', async () => {
      await store.recordTurn(turnInput('twice', 0))
      await store.deleteSession('twice')
      await expect(store.deleteSession('twice')).rejects.toBeInstanceOf(NotFoundError)
      await expect(store.deleteSession('never-existed')).rejects.toBeInstanceOf(NotFoundError)
    })

    it('a session written again after deletion starts from zero', async () => {
      await store.recordTurn(turnInput('reborn', 0))
      await store.recordTurn(turnInput('reborn', 1))
      await store.deleteSession('reborn')
      const turn = await store.recordTurn(turnInput('reborn', 2))
      expect(await store.getSession('reborn')).toMatchObject({ messageCount: 1, createdAt: turn.createdAt })
      expect((await store.history('reborn')).turns).toEqual([turn])
    })
  })
})
