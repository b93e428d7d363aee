// Interaction events (multi-row, idempotent by id, validated per event) and session statistics.
import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ValidationError } from '../../src/errors.js'
import { newId } from '../../src/store/ids.js'
import type { Store } from '../../src/store/store.js'
import type { InteractionInput } from '../../src/store/types.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

function event(i: number, extra: Partial<InteractionInput> = {}): InteractionInput {
  return {
    robotId: `robot-${i % 3}`,
    interactionType: i % 2 ? 'wave' : 'speak',
    durationMs: 100 + i,
    success: i % 4 !== 0,
    metadata: { i, note: `événement ${i} 🤖` },
    ...extra,
  }
}

interface EventRow {
  id: string
  robot_id: string
  interaction_type: string
  duration_ms: number
  success: boolean
  metadata: unknown
  created_at: Date
}

describe(`interactions (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('interactions')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const rowsOf = (ids: string[]) =>
    t.ownerQuery<EventRow>(
      `SELECT id::text AS id, robot_id, interaction_type, duration_ms, success, metadata, created_at
       FROM robot_brain.robot_interactions WHERE id = ANY ($1::uuid[]) ORDER BY id`,
      [ids],
    )

  it('stores many events in one call, every field as given', async () => {
    const events = Array.from({ length: 7 }, (_, i) => event(i, { id: newId() }))
    const explicit = event(99, { id: randomUUID(), createdAt: '2026-06-07T08:09:10.123Z' })
    const result = await store.recordInteractions([...events, explicit])
    expect(result).toEqual({ accepted: 8, inserted: 8 })
    const rows = await rowsOf([...events, explicit].map((e) => e.id as string))
    expect(rows).toHaveLength(8)
    for (const e of [...events, explicit]) {
      const row = rows.find((r) => r.id === e.id)
      expect(row).toMatchObject({
        robot_id: e.robotId,
        interaction_type: e.interactionType,
        duration_ms: e.durationMs,
        success: e.success,
        metadata: e.metadata,
      })
    }
    expect(rows.find((r) => r.id === explicit.id)?.created_at.toISOString()).toBe('2026-06-07T08:09:10.123Z')
  })

  it('events without ids get their own; an empty list stores nothing', async () => {
    const before = await t.counts()
    expect(await store.recordInteractions([event(1), event(2)])).toEqual({ accepted: 2, inserted: 2 })
    expect(await store.recordInteractions([])).toEqual({ accepted: 0, inserted: 0 })
    expect((await t.counts()).interactions).toBe(before.interactions + 2)
  })

  it('is idempotent by id: replays are accepted and stored once', async () => {
    const events = Array.from({ length: 5 }, (_, i) => event(i, { id: newId() }))
    expect(await store.recordInteractions(events.slice(0, 3))).toEqual({ accepted: 3, inserted: 3 })
    const before = await t.counts()
    // A retry of the whole batch, with two new events: only those are stored.
    expect(await store.recordInteractions(events)).toEqual({ accepted: 5, inserted: 2 })
    expect(await store.recordInteractions(events)).toEqual({ accepted: 5, inserted: 0 })
    // The same id twice in one call is stored once.
    const dup = event(7, { id: newId() })
    expect(await store.recordInteractions([dup, dup])).toEqual({ accepted: 2, inserted: 1 })
    // A replay with another createdAt is still the same event.
    const moved = event(8, { id: randomUUID(), createdAt: '2026-06-01T00:00:00Z' })
    await store.recordInteractions([moved])
    expect(await store.recordInteractions([{ ...moved, createdAt: '2026-06-01T00:00:01Z' }])).toMatchObject({
      inserted: 0,
    })
    // So is a repeat at another time in the same call (its id in upper case too): the first is stored.
    const twice = event(9, { id: randomUUID(), createdAt: '2026-06-02T00:00:00Z' })
    const again = { ...twice, id: (twice.id as string).toUpperCase(), createdAt: '2026-06-02T05:00:00Z' }
    expect(await store.recordInteractions([twice, again])).toEqual({ accepted: 2, inserted: 1 })
    const [kept] = await rowsOf([twice.id as string])
    expect(new Date(kept?.created_at as Date).toISOString()).toBe('2026-06-02T00:00:00.000Z')
    expect((await t.counts()).interactions).toBe(before.interactions + 2 + 1 + 1 + 1)
    expect(await rowsOf(events.map((e) => e.id as string))).toHaveLength(5)
  })

  it('concurrent calls share statements; each is told how many of its own events were new', async () => {
    const stored = event(20, { id: newId() })
    await store.recordInteractions([stored])
    const shared = event(21, { id: newId() })
    // Queued at once, the two small calls go in one statement: the queue is shared between the two
    // statements a tenant may run side by side (9 events: at most 5 each), and the last call goes in
    // the other (on the embedded database, with one connection, all three go together).
    const first = [shared]
    const second = [shared, event(22, { id: newId() })]
    const third = [stored, ...Array.from({ length: 5 }, (_, i) => event(23 + i, { id: newId() }))]
    const before = (await t.counts()).interactions
    const results = await Promise.all([first, second, third].map((e) => store.recordInteractions(e)))
    // An id sent by two calls at once belongs to the first, as if they had run one after the other.
    expect(results).toEqual([
      { accepted: 1, inserted: 1 },
      { accepted: 2, inserted: 1 },
      { accepted: 6, inserted: 5 },
    ])
    expect((await t.counts()).interactions).toBe(before + 7)
    // The rows of the first two calls share one transaction: one statement wrote them.
    const [row] = await t.ownerQuery<{ rows: number; xacts: number }>(
      `SELECT count(*)::int AS rows, count(DISTINCT xmin::text)::int AS xacts
       FROM robot_brain.robot_interactions WHERE id = ANY ($1::uuid[])`,
      [second.map((e) => e.id as string)],
    )
    expect(row).toEqual({ rows: 2, xacts: 1 })
  })

  it('names the field of a bad event with its index and stores none of the batch', async () => {
    const good = () => event(0, { id: newId() })
    const cases: Array<[InteractionInput[], string]> = [
      [[good(), good(), { ...good(), robotId: undefined as unknown as string }], 'events[2].robotId'],
      [[good(), { ...good(), robotId: 'r'.repeat(51) }], 'events[1].robotId'],
      [[{ ...good(), robotId: 'bad\u0007bell' }], 'events[0].robotId'],
      [[good(), { ...good(), interactionType: '' }], 'events[1].interactionType'],
      [[good(), good(), good(), { ...good(), interactionType: 't'.repeat(51) }], 'events[3].interactionType'],
      [[{ ...good(), durationMs: -1 }], 'events[0].durationMs'],
      [[good(), { ...good(), durationMs: 1.5 }], 'events[1].durationMs'],
      [[{ ...good(), durationMs: '5' as unknown as number }], 'events[0].durationMs'],
      [[{ ...good(), durationMs: 2 ** 31 }], 'events[0].durationMs'],
      [[good(), { ...good(), success: 'yes' as unknown as boolean }], 'events[1].success'],
      [[{ ...good(), metadata: [] as unknown as Record<string, unknown> }], 'events[0].metadata'],
      [[good(), { ...good(), metadata: { k: 'nul\u0000' } }], 'events[1].metadata'],
      [[{ ...good(), id: 'not-a-uuid' }], 'events[0].id'],
      [[good(), { ...good(), id: randomUUID() }], 'events[1].id'], // not v7 and no createdAt
      [[{ ...good(), createdAt: 'last tuesday' }], 'events[0].createdAt'],
      [[good(), null as unknown as InteractionInput], 'events[1]'],
    ]
    const before = await t.counts()
    for (const [events, field] of cases) {
      const err = await store.recordInteractions(events).catch((e: unknown) => e)
      expect(err, field).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).field).toBe(field)
      expect((err as ValidationError).message.startsWith(`${field}: `)).toBe(true)
    }
    const notArray = await store
      .recordInteractions({} as unknown as InteractionInput[])
      .catch((e: unknown) => e)
    expect((notArray as ValidationError).field).toBe('events')
    expect(await t.counts()).toEqual(before)
  })
})

describe(`session statistics (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('stats')
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('reflects the turns after refreshSessionStats, counting characters not bytes', async () => {
    await store.recordTurn(
      turnInput('stats-a', 0, {
        userMessage: 'ab',
        robotResponse: '😀😀😀😀',
        createdAt: '2026-07-01T00:00:00Z',
      }),
    )
    await store.recordTurn(
      turnInput('stats-a', 1, {
        userMessage: 'abcd',
        robotResponse: 'xy',
        createdAt: '2026-07-01T00:10:00Z',
      }),
    )
    await store.recordTurn(
      turnInput('stats-b', 0, { userMessage: '', robotResponse: 'שלום', createdAt: '2026-07-02T00:00:00Z' }),
    )
    // Not refreshed yet: computed from the turns, never an empty list; the same after the refresh.
    const live = await store.sessionStats()
    await store.refreshSessionStats()
    const stats = await store.sessionStats()
    expect(live).toEqual(stats)
    expect(stats).toEqual([
      {
        sessionId: 'stats-b',
        messageCount: 1,
        firstMessage: '2026-07-02T00:00:00.000Z',
        lastMessage: '2026-07-02T00:00:00.000Z',
        avgResponseLength: 4,
        avgUserMessageLength: 0,
      },
      {
        sessionId: 'stats-a',
        messageCount: 2,
        firstMessage: '2026-07-01T00:00:00.000Z',
        lastMessage: '2026-07-01T00:10:00.000Z',
        avgResponseLength: 3,
        avgUserMessageLength: 3,
      },
    ])
    expect(await store.sessionStats({ sessionId: 'stats-a' })).toEqual([stats[1]])
    expect(await store.sessionStats({ limit: 1 })).toEqual([stats[0]])
    // New turns show at once, not only after the next refresh; deleted sessions vanish.
    await store.recordTurn(
      turnInput('stats-a', 2, {
        userMessage: 'abcdef',
        robotResponse: 'x',
        createdAt: '2026-07-03T00:00:00Z',
      }),
    )
    await store.deleteSession('stats-b')
    const expected = [
      {
        sessionId: 'stats-a',
        messageCount: 3,
        firstMessage: '2026-07-01T00:00:00.000Z',
        lastMessage: '2026-07-03T00:00:00.000Z',
        avgResponseLength: expect.closeTo(7 / 3, 12),
        avgUserMessageLength: 4,
      },
    ]
    expect(await store.sessionStats()).toEqual(expected)
    await store.refreshSessionStats()
    expect(await store.sessionStats()).toEqual(expected)
  })
})
