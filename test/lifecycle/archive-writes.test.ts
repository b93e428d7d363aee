// The promise "archiving and restoring a month never blocks writes to other months for more than
// 2 s": the application writes turns and interaction events to the current month without pause while
// a past month of both tables is archived (detached, written, verified, dropped) and restored. Every
// write must succeed, and none may wait more than 2 s (a bound on each write's latency, not a speed
// measurement). Server backends only: the embedded database has one connection, so there is no
// concurrent writer to block.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { archiveMonth, monthsBefore } from '../../src/lifecycle/archive.js'
import { restoreMonth } from '../../src/lifecycle/restore.js'
import { ensureMonths, PARTITIONED_TABLES } from '../../src/upkeep/partitions.js'
import { openTestStore, serverBackend, type TestStore, turnInput } from '../support/store.js'

const PAST = '2025-06'
const BOUND_MS = 2000

describe.skipIf(!serverBackend)('archive and restore beside live writes', () => {
  let t: TestStore
  let dir: string

  beforeAll(async () => {
    t = await openTestStore('archive_writes')
    dir = mkdtempSync(join(tmpdir(), 'rbtest-archive-writes-'))
    const owner = t.store.transport.owner
    for (const table of PARTITIONED_TABLES) await ensureMonths(owner, table, [PAST])
    // A past month with some weight: 50 sessions of 40 turns, and 2000 events.
    await t.ownerQuery(
      `INSERT INTO robot_brain.sessions (tenant_id, id, created_at, last_active, message_count)
       SELECT 'acme', 'old-' || s, '${PAST}-02T00:00:00Z', '${PAST}-20T00:00:00Z', 40 FROM generate_series(1, 50) s`,
    )
    await t.ownerQuery(
      `INSERT INTO robot_brain.conversations
         (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
       SELECT 'acme', md5(s || ':' || k)::uuid, 'old-' || s, 'cheerful', 'question ' || k, 'answer ' || k,
              timestamptz '${PAST}-02T00:00:00Z' + (s * 40 + k) * interval '5 minutes'
         FROM generate_series(1, 50) s, generate_series(1, 40) k`,
    )
    await t.ownerQuery(
      `INSERT INTO robot_brain.robot_interactions
         (tenant_id, id, robot_id, interaction_type, duration_ms, success, created_at)
       SELECT 'acme', md5('e' || i)::uuid, 'r-' || (i % 7), 'wave', i % 500, i % 9 <> 0,
              timestamptz '${PAST}-03T00:00:00Z' + i * interval '10 minutes'
         FROM generate_series(1, 2000) i`,
    )
  }, 120_000)

  afterAll(async () => {
    await t?.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it(`no write to the current month fails or waits over ${BOUND_MS / 1000} s`, async () => {
    const store = t.store.tenant('acme')
    const owner = t.store.transport.owner
    const latencies: number[] = []
    const failures: string[] = []
    let stop = false
    // Two writers, one of turns and one of events, each one write at a time, back to back.
    const writer = async (kind: 'turn' | 'event') => {
      for (let i = 0; !stop; i++) {
        const t0 = performance.now()
        try {
          if (kind === 'turn') await store.recordTurn(turnInput(`live-${i % 5}`, i))
          else
            await store.recordInteractions([
              { robotId: 'r-live', interactionType: 'wave', durationMs: i, success: true },
            ])
        } catch (err) {
          failures.push(`${kind} ${i}: ${(err as Error).message}`)
        }
        latencies.push(performance.now() - t0)
      }
    }
    const writers = [writer('turn'), writer('event')]
    // Let the writers reach their pace, then archive and restore the past month of both tables.
    await new Promise((r) => setTimeout(r, 500))
    const before = latencies.length
    const months = []
    for (const table of PARTITIONED_TABLES) months.push(...(await monthsBefore(owner, table, '2025-07')))
    expect(months.map((m) => `${m.table} ${m.month}`)).toEqual([
      `conversations ${PAST}`,
      `robot_interactions ${PAST}`,
    ])
    for (const m of months) expect((await archiveMonth(owner, m, dir)).rows).toBe(2000)
    for (const table of PARTITIONED_TABLES)
      expect((await restoreMonth(owner, dir, table, PAST)).restored).toBe(2000)
    stop = true
    await Promise.all(writers)

    expect(failures).toEqual([])
    // Writes went on during the whole archive and restore, not just before and after.
    expect(latencies.length - before).toBeGreaterThan(10)
    const worst = Math.max(...latencies)
    expect(worst).toBeLessThan(BOUND_MS)
    const [row] = await t.ownerQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM robot_brain.conversations WHERE created_at < '2025-07-01'`,
    )
    expect(row?.n).toBe(2000)
  }, 240_000)
})
