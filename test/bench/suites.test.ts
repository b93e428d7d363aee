// The bench suites against a real database on the current backend, in miniature: the baselines
// write what they claim, the bulk load is consistent, and group commit keeps message_count exact.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bulkLoadTurns, ensureHistoryPartitions, MONTHS, settle } from '../../src/bench/bulk-load.js'
import { runHistoryCase } from '../../src/bench/suite-history.js'
import { loadCopyFrom, runInteractionCase } from '../../src/bench/suite-interactions.js'
import { checkMessageCounts, runTurnCase } from '../../src/bench/suite-turns.js'
import { BENCH_TENANT, type Target } from '../../src/bench/targets.js'
import type { DbPool } from '../../src/db/pool.js'
import { backend, openTestStore, serverBackend, type TestStore } from '../support/store.js'

const TINY = { rounds: 2, durationMs: 150, warmupMs: 0 }

let t: TestStore
let ownerPool: pg.Pool | undefined
let target: Target

beforeAll(async () => {
  t = await openTestStore('bench-suites')
  // The baselines run as the owner (no row-level security), directly: on PgBouncer and Neon too.
  ownerPool = serverBackend ? new pg.Pool({ connectionString: t.db.ownerUrl, max: 4 }) : undefined
  const owner = (ownerPool as unknown as DbPool | undefined) ?? t.store.transport.owner
  target = {
    name: backend,
    store: t.store.tenant(BENCH_TENANT),
    root: t.store,
    raw: owner,
    owner,
    close: async () => {},
  }
})

afterAll(async () => {
  await ownerPool?.end()
  await t?.cleanup()
})

async function count(sql: string, values: unknown[] = []): Promise<number> {
  const [row] = await t.ownerQuery<{ n: number }>(sql, values)
  return row?.n ?? -1
}

describe('turn ingest suite', () => {
  it('writes one turn per measured op on both sides, and every message_count is exact', async () => {
    const row = await runTurnCase(target, { writers: 4, sessions: 'hot' }, TINY)
    expect(row.baseline.ops).toBeGreaterThan(0)
    expect(row.project.ops).toBeGreaterThan(0)
    expect(row.ratio).toBeCloseTo(row.project.throughput / row.baseline.throughput)
    // A new session per case and round (no warm-up here): each side's two rounds wrote to two sessions.
    const stored = async (side: string) =>
      count(
        `SELECT sum(message_count)::int AS n, count(*)::int AS sessions FROM robot_brain.sessions
         WHERE tenant_id = $1 AND id ~ $2`,
        [BENCH_TENANT, `^${side}-${backend}-4-c[0-9]+r[01]-hot$`],
      )
    expect(await stored('tb')).toBe(row.baseline.ops)
    expect(await stored('tp')).toBe(row.project.ops)
    expect(
      await count(`SELECT count(*)::int AS n FROM robot_brain.sessions WHERE id LIKE 't_-%-4-c%-hot'`),
    ).toBe(4)

    await runTurnCase(target, { writers: 3, sessions: 'distinct' }, TINY)
    const check = await checkMessageCounts(target.owner)
    expect(check.sessions).toBe(2 * 2 + 2 * 2 * 3)
    expect(check.wrong).toBe(0)
  })
})

describe.runIf(backend === 'pg')('metered turn case', () => {
  it('reports each round, the median of their ratios, and CPU per turn on both sides of the wire', async () => {
    const rounds = { rounds: 3, durationMs: 300, warmupMs: 0 }
    const row = await runTurnCase(target, { writers: 5, sessions: 'hot' }, rounds, target.owner)
    expect(row.roundRatios).toHaveLength(3)
    const sorted = [...(row.roundRatios ?? [])].sort((a, b) => a - b)
    expect(row.medianRatio).toBe(sorted[1])
    for (const side of [row.cpu?.baseline, row.cpu?.project]) {
      // The server is on this machine: its backends' CPU is read from /proc, and writing took some.
      expect(side?.serverUs).toBeGreaterThan(0)
      expect(side?.clientUs).toBeGreaterThan(0)
    }
    // The naive side makes four round trips per turn, group commit one per batch: the client's work
    // per turn is smaller for the store.
    expect(row.cpu?.project?.clientUs).toBeLessThan(row.cpu?.baseline?.clientUs ?? 0)
  })
})

describe('history suite', () => {
  it('bulk-loads consistent sessions spread over the monthly partitions, then reads full pages', async () => {
    await ensureHistoryPartitions(target.owner)
    await bulkLoadTurns(target.owner, 0, 12, 30)
    await bulkLoadTurns(target.owner, 12, 24, 30)
    await settle(target.owner)
    expect(
      await count(
        "SELECT count(*)::int AS n FROM robot_brain.conversations WHERE tenant_id = $1 AND session_id LIKE 'h%'",
        [BENCH_TENANT],
      ),
    ).toBe(24 * 30)
    expect(
      await count(
        `SELECT count(*)::int AS n FROM robot_brain.sessions s
         WHERE s.tenant_id = $1 AND s.id LIKE 'h%' AND s.message_count = 30
           AND s.message_count = (SELECT count(*) FROM robot_brain.conversations c
                                  WHERE c.tenant_id = s.tenant_id AND c.session_id = s.id)`,
        [BENCH_TENANT],
      ),
    ).toBe(24)
    // Rows land in the month partitions, none in the default one; ids are UUIDv7.
    expect(
      await count(
        `SELECT count(DISTINCT tableoid)::int AS n FROM robot_brain.conversations
         WHERE tenant_id = $1 AND session_id LIKE 'h%'`,
        [BENCH_TENANT],
      ),
    ).toBeGreaterThan(MONTHS / 2)
    expect(
      await count(
        "SELECT count(*)::int AS n FROM robot_brain.conversations_default WHERE session_id LIKE 'h%'",
      ),
    ).toBe(0)
    expect(
      await count(
        "SELECT count(*)::int AS n FROM robot_brain.conversations WHERE session_id LIKE 'h%' AND substr(id::text, 15, 1) <> '7'",
      ),
    ).toBe(0)

    const row = await runHistoryCase(target, 24 * 30, 24, TINY)
    expect(row.baseline.ops).toBeGreaterThan(0)
    expect(row.project.ops).toBeGreaterThan(0)
    expect(row.storedTurns).toBe(720)
  })
})

describe.runIf(backend === 'pg')('interaction ingest suite', () => {
  it('stores every event of both sides: COPY and recordInteractions', async () => {
    const copyFrom = await loadCopyFrom()
    expect(copyFrom).not.toBeNull()
    const copyPool = new pg.Pool({ connectionString: t.db.ownerUrl, max: 1 })
    try {
      const before = await count('SELECT count(*)::int AS n FROM robot_brain.robot_interactions')
      const row = await runInteractionCase(
        target,
        copyPool,
        copyFrom as NonNullable<typeof copyFrom>,
        50,
        TINY,
      )
      const after = await count('SELECT count(*)::int AS n FROM robot_brain.robot_interactions')
      expect(after - before).toBe((row.baseline.ops + row.project.ops) * 50)
      expect(row.project.throughput).toBeCloseTo((row.project.ops * 50 * 1000) / row.project.elapsedMs)
    } finally {
      await copyPool.end()
    }
  })
})
