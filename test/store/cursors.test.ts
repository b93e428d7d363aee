// Crafted cursors: the history `before` cursor and the session-list `cursor` are client input.
// Each crafted one is a ValidationError naming the parameter, never a database error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { craftedCursors, edgeCursors } from '../support/cursors.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('expected a ValidationError, got a page'),
    (e: unknown) => e,
  )
}

describe(`crafted cursors (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    t = await openTestStore('cursors')
    for (let i = 0; i < 3; i++) await t.store.recordTurn(turnInput('cursor-session', i))
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  for (const [name, cursor] of Object.entries(craftedCursors())) {
    it(`history before: ${name} is a ValidationError naming before`, async () => {
      const err = await rejection(t.store.history('cursor-session', { before: cursor }))
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).field).toBe('before')
    })

    it(`listSessions cursor: ${name} is a ValidationError naming cursor`, async () => {
      const err = await rejection(t.store.listSessions({ cursor }))
      expect(err).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).field).toBe('cursor')
    })
  }

  it('the extreme valid keys reach the database and answer pages', async () => {
    const { 'the far-future key': newest, 'the earliest timestamp': earliest } = edgeCursors()
    expect((await t.store.history('cursor-session', { before: newest })).turns).toHaveLength(3)
    expect((await t.store.history('cursor-session', { before: earliest })).turns).toEqual([])
    expect((await t.store.listSessions({ cursor: newest })).sessions.map((s) => s.id)).toEqual([
      'cursor-session',
    ])
    expect((await t.store.listSessions({ cursor: earliest })).sessions).toEqual([])
  })

  it('a cursor after a session id of 100 four-byte characters pages the list', async () => {
    const tenant = t.store.tenant('wide-ids')
    const wide = '😀'.repeat(100)
    await tenant.recordTurn(turnInput(wide, 1, { createdAt: '2026-02-01T00:00:00Z' }))
    await tenant.recordTurn(turnInput('older', 1, { createdAt: '2026-01-01T00:00:00Z' }))
    const first = await tenant.listSessions({ limit: 1 })
    expect(first.sessions.map((s) => s.id)).toEqual([wide])
    const second = await tenant.listSessions({ limit: 1, cursor: first.nextCursor })
    expect(second.sessions.map((s) => s.id)).toEqual(['older'])
  })
})
