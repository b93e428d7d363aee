// README and DESIGN claims about batched writes, proven on every backend with a real refusal: the
// owner adds a CHECK constraint that one turn (or event) breaks.
//   - group commit: a batch holding one bad turn fails that turn alone and stores the others, and a
//     statement merging concurrent event calls, one with a bad event, fails that call alone;
//   - the interaction buffer halves a refused batch until the bad event stands alone, counts it in
//     stats().rejected, tells onError (willRetry false), and stores every other event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { InteractionInput } from '../../src/store/types.js'
import { watchStatements } from '../support/statements.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

const CHECK_VIOLATION = '23514'

describe(`batched writes with one bad row (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    // A short linger makes concurrent turns one batch on every backend (PGlite batches anyway).
    t = await openTestStore('claims batches', { options: { groupCommit: { lingerMs: 30 } } })
    await t.ownerQuery(
      "ALTER TABLE robot_brain.conversations ADD CONSTRAINT claims_no_poison CHECK (user_message <> 'poison')",
    )
    await t.ownerQuery(
      "ALTER TABLE robot_brain.robot_interactions ADD CONSTRAINT claims_no_poison CHECK (robot_id <> 'poison-bot')",
    )
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('group commit: the bad turn fails alone, the rest of its batch is stored and counted once', async () => {
    await t.store.putSession('gc', {}) // the session exists before the batch
    const watch = watchStatements(t.store, 'rb_insert_turns')
    let results: PromiseSettledResult<unknown>[]
    try {
      results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          t.store.recordTurn(turnInput('gc', i, i === 4 ? { userMessage: 'poison' } : {})),
        ),
      )
    } finally {
      watch.stop()
    }
    // One statement for all ten, refused; then each turn alone.
    expect(watch.sizes[0], `statement sizes ${JSON.stringify(watch.sizes)}`).toBe(10)
    expect(watch.sizes.slice(1).every((n) => n === 1)).toBe(true)
    const failed = results.filter((r) => r.status === 'rejected')
    expect(failed).toHaveLength(1)
    expect(results[4]?.status).toBe('rejected')
    expect(((results[4] as PromiseRejectedResult).reason as { code?: string }).code).toBe(CHECK_VIOLATION)
    const page = await t.store.history('gc', { limit: 50 })
    expect(page.turns.map((x) => x.userMessage).sort()).toEqual(
      [0, 1, 2, 3, 5, 6, 7, 8, 9].map((i) => turnInput('gc', i).userMessage).sort(),
    )
    expect((await t.store.getSession('gc')).messageCount).toBe(9)
  })

  it('group commit for events: concurrent calls share a statement; a refused call fails alone', async () => {
    const calls: InteractionInput[][] = Array.from({ length: 5 }, (_, c) =>
      Array.from({ length: c + 1 }, (_, i) => ({
        robotId: c === 2 && i === 1 ? 'poison-bot' : 'gc-bot',
        interactionType: 'wave',
        durationMs: i,
        success: true,
      })),
    )
    const watch = watchStatements(t.store, 'rb_insert_interactions')
    let results: PromiseSettledResult<{ inserted: number }>[]
    try {
      results = await Promise.allSettled(calls.map((events) => t.store.recordInteractions(events)))
    } finally {
      watch.stop()
    }
    // Fewer statements than calls for the 15 events (at most two, side by side, or one on the
    // embedded database); the one holding the bad call was refused, then each of its calls went
    // alone, one at a time.
    let merged = 0
    for (let sent = 0; sent < 15; merged++) sent += watch.sizes[merged] ?? 15
    expect(merged, `statement sizes ${JSON.stringify(watch.sizes)}`).toBeLessThanOrEqual(2)
    const alone = watch.sizes.slice(merged)
    expect(alone).toContain(3)
    expect(alone.every((n) => n >= 1 && n <= 5)).toBe(true)
    expect(new Set(alone).size).toBe(alone.length)
    expect(watch.sizes.slice(0, merged)).toContain(alone.reduce((a, b) => a + b, 0))
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.inserted : 'refused'))).toEqual([
      1,
      2,
      'refused',
      4,
      5,
    ])
    const reason = (results[2] as PromiseRejectedResult).reason as { code?: string }
    expect(reason.code).toBe(CHECK_VIOLATION)
    const [row] = await t.ownerQuery<{ n: number }>(
      "SELECT count(*)::int AS n FROM robot_brain.robot_interactions WHERE robot_id = 'gc-bot'",
    )
    expect(row?.n).toBe(12)
  })

  it('interaction buffer: a refused batch is halved until the bad event stands alone, which is rejected', async () => {
    const errors: Array<{ events: number; willRetry: boolean; code?: string }> = []
    const buffer = t.store.interactionBuffer({
      maxBatch: 8,
      flushDelayMs: 60_000,
      onError: (err, info) =>
        errors.push({
          events: info.events,
          willRetry: info.willRetry,
          code: (err as { code?: string }).code,
        }),
    })
    const events: InteractionInput[] = Array.from({ length: 8 }, (_, i) => ({
      robotId: i === 5 ? 'poison-bot' : 'good-bot',
      interactionType: 'wave',
      durationMs: i,
      success: true,
    }))
    const watch = watchStatements(t.store, 'rb_insert_interactions')
    try {
      await buffer.add(events)
      await buffer.flush()
    } finally {
      watch.stop()
      await buffer.close()
    }
    // 8 refused → 4 + 4; the half with the bad event → 2 + 2 → 1 + 1 (two batches run at once, so
    // the order may vary).
    expect(watch.sizes[0]).toBe(8)
    expect([...watch.sizes].sort((a, b) => a - b)).toEqual([1, 1, 2, 2, 4, 4, 8])
    const bySize = (a: { events: number }, b: { events: number }) => b.events - a.events
    expect(errors.sort(bySize).map((e) => [e.events, e.willRetry, e.code])).toEqual([
      [8, true, CHECK_VIOLATION],
      [4, true, CHECK_VIOLATION],
      [2, true, CHECK_VIOLATION],
      [1, false, CHECK_VIOLATION],
    ])
    expect(buffer.stats()).toMatchObject({
      pending: 0,
      written: 7,
      inserted: 7,
      rejected: 1,
      retriedBatches: 0,
    })
    const [row] = await t.ownerQuery<{ good: number; bad: number }>(
      `SELECT count(*) FILTER (WHERE robot_id = 'good-bot')::int AS good,
              count(*) FILTER (WHERE robot_id = 'poison-bot')::int AS bad
       FROM robot_brain.robot_interactions`,
    )
    expect(row).toEqual({ good: 7, bad: 0 })
  })
})
