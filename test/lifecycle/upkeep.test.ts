// Scheduled upkeep: partitions follow the (injected) clock, one process at a time through a lease
// row, at most once per interval, started by API traffic only, and a session_stats refresh that is
// skipped when no turn changed since the last one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp } from '../../src/server/app.js'
import { openStore, type Store } from '../../src/store/store.js'
import { acquireLease } from '../../src/upkeep/lease.js'
import { monthStart, partitionName } from '../../src/upkeep/partitions.js'
import { UPKEEP_JOB, Upkeep } from '../../src/upkeep/scheduler.js'
import { upkeepStatus } from '../../src/upkeep/status.js'
import {
  openTestStore,
  runCli,
  serverBackend,
  storeOptions,
  type TestStore,
  turnInput,
} from '../support/store.js'

const HOUR = 3_600_000
const INTERVAL = 6 * HOUR

describe('scheduled upkeep', () => {
  let t: TestStore
  /** A second store on the same database: another serve process (PGlite: one process, same pool). */
  let other: Store
  let clock: Date
  const now = () => clock

  const upkeep = (store: Store, holder: string, tasks?: string[]) =>
    new Upkeep({ owner: store.transport.owner, options: { intervalMs: INTERVAL }, now, holder, tasks })

  const exists = async (name: string) =>
    (
      await t.ownerQuery<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`robot_brain.${name}`])
    )[0]?.t !== null

  beforeAll(async () => {
    t = await openTestStore('upkeep')
    other = serverBackend ? await openStore(storeOptions(t.db)) : t.store
    // Far enough ahead that the migration's partitions (this month and three more) do not reach it.
    const real = new Date()
    clock = new Date(Date.UTC(real.getUTCFullYear(), real.getUTCMonth() + 6, 15, 12))
  }, 180_000)

  afterAll(async () => {
    if (other !== t?.store) await other?.close()
    await t?.cleanup()
  })

  it("creates next months' partitions when the clock moves forward, once per interval", async () => {
    const last = partitionName('conversations', monthStart(clock, 3))
    expect(await exists(last)).toBe(false)
    const run = await upkeep(t.store, 'a').runIfDue()
    expect(run?.results.map((r) => [r.task, r.ok])).toEqual([
      ['partitions', true],
      ['stats', true],
      ['retention', true],
      ['analyze', true],
    ])
    for (let i = 0; i <= 3; i++) {
      expect(await exists(partitionName('conversations', monthStart(clock, i)))).toBe(true)
      expect(await exists(partitionName('robot_interactions', monthStart(clock, i)))).toBe(true)
    }
    // A turn dated in the new month lands in its partition.
    const turn = await t.store.recordTurn(turnInput('future', 1, { createdAt: clock.toISOString() }))
    const [where] = await t.ownerQuery<{ part: string }>(
      'SELECT tableoid::regclass::text AS part FROM robot_brain.conversations WHERE id = $1',
      [turn.id],
    )
    expect(where?.part).toBe(`robot_brain.${partitionName('conversations', monthStart(clock))}`)

    // Not due again within the interval, whichever process asks.
    clock = new Date(clock.getTime() + INTERVAL - 60_000)
    expect(await upkeep(t.store, 'a').runIfDue()).toBeNull()
    expect(await upkeep(other, 'b').runIfDue()).toBeNull()
    clock = new Date(clock.getTime() + 2 * 60_000)
    expect(await upkeep(other, 'b').runIfDue()).not.toBeNull()
  })

  it('refreshes session_stats only when turns changed since the last refresh', async () => {
    const step = () => {
      clock = new Date(clock.getTime() + INTERVAL + 1000)
    }
    const statsDetail = async () => {
      step()
      const run = await upkeep(t.store, 'a', ['stats']).runIfDue()
      const r = run?.results[0]
      expect(r?.ok).toBe(true)
      return r?.detail ?? ''
    }
    // The previous test wrote a turn before its second run: that run refreshed; nothing since.
    const before = await t.store.sessionStatsFreshness()
    expect(before.changedSince).toBe(false)
    expect(await statsDetail()).toMatch(/^skipped: no turns changed/)
    expect((await t.store.sessionStatsFreshness()).refreshedAt).toBe(before.refreshedAt)

    await t.store.recordTurn(turnInput('stats-1', 1))
    expect((await t.store.sessionStatsFreshness()).changedSince).toBe(true)
    expect(await statsDetail()).toMatch(/^session_stats refreshed at /)
    const after = await t.store.sessionStatsFreshness()
    expect(after.changedSince).toBe(false)
    expect(Date.parse(after.refreshedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(before.refreshedAt ?? ''))
    // The view now answers for the new session, with its real figures.
    const [row] = await t.ownerQuery<{ n: number }>(
      "SELECT message_count AS n FROM robot_brain.session_stats WHERE session_id = 'stats-1'",
    )
    expect(row?.n).toBe(1)
    expect(await statsDetail()).toMatch(/^skipped/)

    // A deleted turn is a change too.
    const gone = await t.store.recordTurn(turnInput('stats-1', 2))
    expect(await statsDetail()).toMatch(/^session_stats refreshed/)
    await t.store.deleteTurn('stats-1', gone.id)
    expect(await statsDetail()).toMatch(/^session_stats refreshed/)
    expect(await statsDetail()).toMatch(/^skipped/)
  })

  it('never runs in two processes at once: the lease row decides, and expires', async () => {
    clock = new Date(clock.getTime() + INTERVAL + 1000)
    // Both due at the same moment, racing: exactly one runs.
    const [a, b] = await Promise.all([upkeep(t.store, 'a').runIfDue(), upkeep(other, 'b').runIfDue()])
    expect([a, b].filter((r) => r !== null)).toHaveLength(1)

    // A holder that crashed mid-run: its lease blocks every other process until it expires.
    clock = new Date(clock.getTime() + INTERVAL + 1000)
    expect(
      await acquireLease(t.store.transport.owner, UPKEEP_JOB, 'crashed', clock, 15 * 60_000, INTERVAL),
    ).toBe(true)
    const status = await upkeepStatus(t.store.transport.owner, clock)
    expect(status?.runningIn).toBe('crashed')
    clock = new Date(clock.getTime() + 14 * 60_000)
    expect(await upkeep(other, 'b').runIfDue()).toBeNull()
    clock = new Date(clock.getTime() + 2 * 60_000)
    const taken = await upkeep(other, 'b').runIfDue()
    expect(taken?.results.every((r) => r.ok)).toBe(true)
    const after = await upkeepStatus(t.store.transport.owner, clock)
    expect(after?.runningIn).toBeNull()
    expect(after?.lastRun?.finishedAt).toBe(clock.toISOString())
  })

  it('starts from API traffic only, in the background, and stops with the server', async () => {
    clock = new Date(clock.getTime() + INTERVAL + 1000)
    const u = upkeep(t.store, 'server')
    const app = await buildApp({ store: t.store, upkeep: u, allowAnonymous: true, logger: false })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      expect((await fetch(`${url}/healthz`)).status).toBe(200)
      expect(await u.idle()).toBeNull()
      expect(u.lastRun).toBeNull()
      expect((await fetch(`${url}/v1/sessions?limit=1`)).status).toBe(200)
      // onResponse runs after the answer is sent: give it a moment to start.
      for (let i = 0; i < 50 && u.lastRun === null; i++) {
        await u.idle()
        await new Promise((r) => setTimeout(r, 20))
      }
      expect(u.lastRun?.results.every((r) => r.ok)).toBe(true)
      // More traffic within the interval does not run it again.
      const first = u.lastRun
      await fetch(`${url}/v1/sessions?limit=1`)
      await new Promise((r) => setTimeout(r, 50))
      await u.idle()
      expect(u.lastRun).toBe(first)
    } finally {
      await app.close()
      await u.stop()
    }
  })

  it('`maintain` runs the same tasks by hand, and status reports them', async () => {
    if (other !== t.store) await other.close()
    await t.store.close()
    const env: Record<string, string> = serverBackend
      ? { DATABASE_URL: t.db.ownerUrl }
      : { ROBOT_BRAIN_DATA_DIR: t.db.dataDir ?? '' }
    const run = await runCli(['maintain', '--json'], env)
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    const results = JSON.parse(run.stdout) as Array<{ task: string; ok: boolean; detail: string }>
    expect(results.map((r) => r.task)).toEqual(['partitions', 'stats', 'retention', 'analyze'])
    expect(results.find((r) => r.task === 'stats')?.detail).toMatch(/^skipped/)
    const forced = await runCli(['maintain', 'stats', '--force', '--json'], env)
    expect(JSON.parse(forced.stdout)[0].detail).toMatch(/^session_stats refreshed/)
    const status = await runCli(['status', '--json'], env)
    const report = JSON.parse(status.stdout)
    expect(report.upkeep.sessionStats.changedSince).toBe(false)
    expect(report.upkeep.lastRun.finishedAt).toEqual(expect.any(String))
    const text = await runCli(['status'], env)
    expect(text.stdout).toMatch(/stats {7}session_stats refreshed .*, current/)
    other = await t.reopen()
  }, 240_000)
})
