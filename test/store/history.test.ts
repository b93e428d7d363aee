// History pages: newest first, keyset cursors that neither skip nor repeat, ties broken by id.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import type { Store } from '../../src/store/store.js'
import type { Turn } from '../../src/store/types.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

/** Walks every page; `between` runs after each page read (to write while a reader pages). */
async function walk(
  store: Store,
  sessionId: string,
  limit: number,
  between: (page: number) => Promise<void> = async () => {},
): Promise<Turn[][]> {
  const pages: Turn[][] = []
  let before: string | null = null
  for (let i = 0; i < 1000; i++) {
    const page = await store.history(sessionId, { limit, before })
    expect(page.turns.length).toBeLessThanOrEqual(limit)
    pages.push(page.turns)
    if (!page.nextCursor) return pages
    expect(page.turns).toHaveLength(limit)
    before = page.nextCursor
    await between(i)
  }
  throw new Error('history paging did not end')
}

/** The order history promises: created_at descending, then id descending. */
function newestFirst(turns: Turn[]): Turn[] {
  return [...turns].sort((a, b) =>
    a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
  )
}

describe(`history (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('history')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('an empty or unknown session has no turns and no cursor', async () => {
    expect(await store.history('nobody-here')).toEqual({ turns: [], nextCursor: null })
  })

  it('a page that ends exactly at the oldest turn has no cursor', async () => {
    for (let i = 0; i < 4; i++) await store.recordTurn(turnInput('exact-pages', i))
    const first = await store.history('exact-pages', { limit: 2 })
    expect(first.turns).toHaveLength(2)
    expect(first.nextCursor).toEqual(expect.any(String))
    const second = await store.history('exact-pages', { limit: 2, before: first.nextCursor })
    expect(second.turns).toHaveLength(2)
    expect(second.nextCursor).toBeNull()
    const all = await store.history('exact-pages', { limit: 4 })
    expect(all.turns).toHaveLength(4)
    expect(all.nextCursor).toBeNull()
  })

  it('pages newest first; every turn once; the last page has no cursor', async () => {
    const base = Date.parse('2026-01-10T00:00:00.000Z')
    const turns: Turn[] = []
    for (let i = 0; i < 23; i++) {
      turns.push(
        await store.recordTurn(turnInput('paged', i, { createdAt: new Date(base + i * 1000 + (i % 3)) })),
      )
    }
    await store.recordTurn(turnInput('paged-other-session', 0, { createdAt: new Date(base + 5000) }))
    for (const limit of [1, 5, 23, 200]) {
      const pages = await walk(store, 'paged', limit)
      expect(pages.flat()).toEqual(newestFirst(turns))
    }
    const first = await store.history('paged')
    expect(first.turns).toEqual(newestFirst(turns).slice(0, 20)) // default limit 20
  })

  it('breaks ties in createdAt by id, across page boundaries', async () => {
    const at = '2026-01-20T12:00:00.000Z'
    const turns: Turn[] = []
    for (let i = 0; i < 17; i++) {
      turns.push(await store.recordTurn(turnInput('ties', i, { id: randomUUID(), createdAt: at })))
    }
    // Two more around the tied block, so the cursor crosses from and into it.
    turns.push(await store.recordTurn(turnInput('ties', 100, { createdAt: '2026-01-20T12:00:00.001Z' })))
    turns.push(await store.recordTurn(turnInput('ties', 101, { createdAt: '2026-01-20T11:59:59.999Z' })))
    const expected = newestFirst(turns)
    expect(expected.slice(1, 18).every((x) => x.createdAt === at)).toBe(true)
    for (const limit of [1, 2, 4, 7]) {
      const all = (await walk(store, 'ties', limit)).flat()
      expect(all.map((x) => x.id)).toEqual(expected.map((x) => x.id))
    }
  })

  it('keeps microsecond order that a JavaScript Date cannot hold', async () => {
    // Turns written by other tools may carry microseconds; the cursor must not round them.
    await store.recordTurn(turnInput('micro', 0, { createdAt: '2026-01-05T00:00:00Z' }))
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()]
    const stamps = [
      '2026-01-05 10:00:00.000001+00',
      '2026-01-05 10:00:00.000002+00',
      '2026-01-05 10:00:00.000999+00',
      '2026-01-05 10:00:00.001+00',
    ]
    await t.ownerQuery(
      `INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
       SELECT 'default', i, 'micro', 'p', 'u', 'r', c FROM unnest($1::uuid[], $2::timestamptz[]) AS x(i, c)`,
      [ids, stamps],
    )
    const all = (await walk(store, 'micro', 1)).flat()
    expect(all.map((x) => x.id)).toEqual([...[...ids].reverse(), all.at(-1)?.id])
    expect(all).toHaveLength(5)
  })

  it('a reader paging back while new turns arrive sees each older turn once and no newer one', async () => {
    const initial: Turn[] = []
    for (let i = 0; i < 45; i++) initial.push(await store.recordTurn(turnInput('live', i)))
    const arrived: Turn[] = []
    const pages = await walk(store, 'live', 10, async (page) => {
      // New turns between page reads, some of them at once.
      arrived.push(
        ...(await Promise.all(
          [0, 1, 2].map((j) => store.recordTurn(turnInput('live', 1000 + page * 10 + j))),
        )),
      )
    })
    expect(arrived.length).toBeGreaterThan(0)
    const seen = pages.flat()
    expect(new Set(seen.map((x) => x.id)).size).toBe(seen.length)
    expect(seen).toEqual(newestFirst(initial))
    // Each page is strictly older than the one before it.
    for (let i = 1; i < pages.length; i++) {
      const prevLast = pages[i - 1]?.at(-1) as Turn
      const first = pages[i]?.[0]
      if (first) expect(newestFirst([prevLast, first])[0]).toBe(prevLast)
    }
    // A fresh walk sees everything, once.
    const again = (await walk(store, 'live', 13)).flat()
    expect(again).toEqual(newestFirst([...initial, ...arrived]))
  })

  it('rejects a cursor it did not make', async () => {
    for (const before of ['not a cursor!', 'AAAA', Buffer.from('123|not-a-uuid').toString('base64url')]) {
      const err = await store.history('paged', { before }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).field).toBe('before')
    }
  })
})
