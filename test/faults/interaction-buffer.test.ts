// The buffered interaction writer against a real database: batches, the delay, the memory bound in
// both modes, idempotent replays, validation before queueing, and close() writing everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UnavailableError, ValidationError } from '../../src/errors.js'
import { BufferFullError } from '../../src/store/interaction-buffer.js'
import type { InteractionInput } from '../../src/store/types.js'
import { watchStatements } from '../support/statements.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'

function events(n: number, robotId: string): InteractionInput[] {
  return Array.from({ length: n }, (_, i) => ({
    robotId,
    interactionType: i % 2 ? 'wave' : 'greet',
    durationMs: i,
    success: i % 3 !== 0,
    metadata: { i },
  }))
}

describe(`interaction buffer (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    t = await openTestStore('ibuffer')
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  async function stored(robotId: string): Promise<number> {
    const [row] = await t.ownerQuery<{ n: number }>(
      'SELECT count(*)::int AS n FROM robot_brain.robot_interactions WHERE robot_id = $1',
      [robotId],
    )
    return row?.n ?? -1
  }

  it('writes one statement per full batch and the rest after the delay', async () => {
    const calls = watchStatements(t.store, 'rb_insert_interactions')
    try {
      const buffer = t.store.interactionBuffer({ maxBatch: 500, flushDelayMs: 100 })
      await buffer.add(events(1200, 'batch-bot'))
      expect(buffer.pending).toBe(1200)
      await buffer.flush()
      expect(await stored('batch-bot')).toBe(1200)
      expect(calls.sizes).toEqual([500, 500, 200])
      // A lone event is written after the delay, without flush().
      await buffer.add(events(1, 'late-bot'))
      await new Promise((r) => setTimeout(r, 600))
      expect(await stored('late-bot')).toBe(1)
      expect(buffer.stats()).toMatchObject({ pending: 0, written: 1201, inserted: 1201, rejected: 0 })
      await buffer.close()
    } finally {
      calls.stop()
    }
  })

  it('refuses with a 503 BufferFullError when full in reject mode, and close() writes all it held', async () => {
    const buffer = t.store.interactionBuffer({ maxPending: 100, flushDelayMs: 60_000, whenFull: 'reject' })
    await buffer.add(events(60, 'full-bot'))
    await buffer.add(events(40, 'full-bot'))
    const err = await buffer.add(events(1, 'full-bot')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BufferFullError)
    expect(err).toMatchObject({ status: 503, code: 'unavailable' })
    expect((err as BufferFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1)
    expect(buffer.stats().fullRefusals).toBe(1)
    await buffer.close()
    expect(await stored('full-bot')).toBe(100)
    await expect(buffer.add(events(1, 'full-bot'))).rejects.toBeInstanceOf(UnavailableError)
  })

  it('makes callers wait for room in wait mode, never holding more than the bound', async () => {
    const buffer = t.store.interactionBuffer({ maxPending: 100, maxBatch: 50, flushDelayMs: 20 })
    let peak = 0
    const adds = Array.from({ length: 10 }, async () => {
      await buffer.add(events(50, 'wait-bot'))
      peak = Math.max(peak, buffer.pending)
    })
    await Promise.all(adds)
    await buffer.close()
    expect(peak).toBeLessThanOrEqual(100)
    expect(await stored('wait-bot')).toBe(500)
  })

  it('times out a waiting add() with BufferFullError instead of waiting forever', async () => {
    const buffer = t.store.interactionBuffer({ maxPending: 10, flushDelayMs: 60_000, waitTimeoutMs: 150 })
    await buffer.add(events(10, 'timeout-bot'))
    const started = Date.now()
    await expect(buffer.add(events(1, 'timeout-bot'))).rejects.toBeInstanceOf(BufferFullError)
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    await buffer.close()
    expect(await stored('timeout-bot')).toBe(10)
  })

  it('stores a replayed event id once', async () => {
    const buffer = t.store.interactionBuffer({ flushDelayMs: 10 })
    const once = events(5, 'replay-bot').map((e) => ({
      ...e,
      id: crypto.randomUUID(),
      createdAt: new Date(),
    }))
    await buffer.add(once)
    await buffer.flush()
    await buffer.add(once)
    await buffer.close()
    expect(await stored('replay-bot')).toBe(5)
    expect(buffer.stats()).toMatchObject({ written: 10, inserted: 5 })
  })

  it('validates before queueing: a bad event names its field and nothing of the call is kept', async () => {
    const buffer = t.store.interactionBuffer({ flushDelayMs: 10 })
    const bad = events(3, 'invalid-bot')
    ;(bad[1] as unknown as Record<string, unknown>).durationMs = -5
    const err = await buffer.add(bad).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ValidationError)
    expect((err as ValidationError).field).toBe('events[1].durationMs')
    expect(buffer.pending).toBe(0)
    await buffer.close()
    expect(await stored('invalid-bot')).toBe(0)
  })

  it('writes to the tenant each add() names', async () => {
    const buffer = t.store.interactionBuffer({ flushDelayMs: 10 })
    await buffer.add(events(3, 'tenant-bot'), 'acme')
    await buffer.add(events(2, 'tenant-bot'))
    await buffer.close()
    const rows = await t.ownerQuery<{ tenant_id: string; n: number }>(
      `SELECT tenant_id, count(*)::int AS n FROM robot_brain.robot_interactions
       WHERE robot_id = 'tenant-bot' GROUP BY tenant_id ORDER BY tenant_id`,
    )
    expect(rows).toEqual([
      { tenant_id: 'acme', n: 3 },
      { tenant_id: 'default', n: 2 },
    ])
  })
})
