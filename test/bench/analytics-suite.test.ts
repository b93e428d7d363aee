// The analytics bench suite in miniature, on the current backend: the server-side load writes what it
// claims and fills the rollups as the migration would, every query's rollup answer is checked against
// the raw figures (and a corrupted rollup is caught), and both ingest sides write their batches.
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RunLog } from '../../src/bench/run-log.js'
import {
  type AnalyticsProfile,
  CASES,
  INGEST_FIRST_BATCHES,
  INGEST_TENANT,
  ingestCase,
  loadAnalyticsData,
  PROFILES,
  queryCase,
} from '../../src/bench/suite-analytics.js'
import { BENCH_TENANT, type Target } from '../../src/bench/targets.js'
import type { DbPool } from '../../src/db/pool.js'
import { backend, openTestStore, serverBackend, type TestStore } from '../support/store.js'

const TINY: AnalyticsProfile = {
  ...PROFILES.quick,
  events: 3000,
  turns: 400,
  turnsPerSession: 10,
  days: 10,
  projectSamples: 2,
  rawSamples: 1,
  projectBudgetMs: 50,
  warmups: 0,
  ingest: { rounds: 2, durationMs: 100, warmupMs: 0 },
  ingestWriters: [1],
  batch: 50,
}

let t: TestStore
let ownerPool: pg.Pool | undefined
let target: Target
const end = new Date()

beforeAll(async () => {
  t = await openTestStore('bench-analytics')
  ownerPool = serverBackend ? new pg.Pool({ connectionString: t.db.ownerUrl, max: 2 }) : undefined
  const owner = (ownerPool as unknown as DbPool | undefined) ?? t.store.transport.owner
  target = {
    name: backend,
    store: t.store.tenant(BENCH_TENANT),
    root: t.store,
    raw: owner,
    owner,
    close: async () => {},
  }
  await loadAnalyticsData(new RunLog(() => {}), owner, TINY, end)
})

afterAll(async () => {
  await ownerPool?.end()
  await t?.cleanup()
})

const count = async (sql: string, values: unknown[]) =>
  Number((await t.ownerQuery<{ n: string }>(sql, values))[0]?.n ?? -1)

describe(`analytics bench suite (${backend})`, () => {
  it('loads the events and turns it claims, with rollups that add up to them', async () => {
    const tenant = [BENCH_TENANT]
    expect(
      await count('SELECT count(*) AS n FROM robot_brain.robot_interactions WHERE tenant_id = $1', tenant),
    ).toBe(TINY.events)
    expect(
      await count('SELECT count(*) AS n FROM robot_brain.conversations WHERE tenant_id = $1', tenant),
    ).toBe(TINY.turns)
    expect(
      await count(
        'SELECT sum(events) AS n FROM robot_brain.interaction_rollups WHERE tenant_id = $1',
        tenant,
      ),
    ).toBe(TINY.events)
    for (const dim of ['r', 't']) {
      expect(
        await count(
          'SELECT sum(events) AS n FROM robot_brain.interaction_day_rollups WHERE tenant_id = $1 AND dim = $2',
          [...tenant, dim],
        ),
      ).toBe(TINY.events)
    }
    expect(
      await count('SELECT sum(turns) AS n FROM robot_brain.personality_rollups WHERE tenant_id = $1', tenant),
    ).toBe(TINY.turns)
  })

  it('times every query on both sides after checking the rollup answer against the raw rows', async () => {
    const run = new RunLog(() => {})
    for (const c of CASES) {
      const row = await queryCase(run, target, c, TINY, end)
      expect(row?.project.ops).toBeGreaterThan(0)
      expect(row?.baseline.ops).toBe(TINY.rawSamples)
      expect(row?.project.p95Ms).toBeGreaterThan(0)
    }
    expect(run.errors).toEqual([])
    expect(run.checks).toHaveLength(CASES.length)
  })

  it('reports a rollup that disagrees with the raw rows as an error of the run', async () => {
    const c = CASES.find((x) => x.key === 'interactions.robot.all')
    if (!c) throw new Error('no whole-range interaction case')
    // The oldest day is a whole day of the whole range: answered from its daily row.
    await t.ownerQuery(
      `UPDATE robot_brain.interaction_day_rollups SET events = events + 1
       WHERE (tenant_id, dim, day, key) IN
             (SELECT tenant_id, dim, day, key FROM robot_brain.interaction_day_rollups
              WHERE tenant_id = $1 AND dim = 'r' ORDER BY day LIMIT 1)`,
      [BENCH_TENANT],
    )
    const run = new RunLog(() => {})
    await queryCase(run, target, c, TINY, end)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(/count \d+ from the rollups, \d+ from raw rows/)
  })

  it('ingests whole batches with and without the rollup upsert', async () => {
    const row = await ingestCase(target, 1, TINY)
    expect(row.baseline.ops).toBeGreaterThan(0)
    expect(row.project.ops).toBeGreaterThan(0)
    const stored = await count(
      'SELECT count(*) AS n FROM robot_brain.robot_interactions WHERE tenant_id = $1',
      [INGEST_TENANT],
    )
    // The first batches, written with the rollups before measuring, count on the project side.
    const project = row.project.ops + INGEST_FIRST_BATCHES
    expect(stored).toBe((row.baseline.ops + project) * TINY.batch)
    // Only the project side counted into the rollups, hourly and daily.
    expect(
      await count('SELECT sum(events) AS n FROM robot_brain.interaction_rollups WHERE tenant_id = $1', [
        INGEST_TENANT,
      ]),
    ).toBe(project * TINY.batch)
    expect(
      await count(
        "SELECT sum(events) AS n FROM robot_brain.interaction_day_rollups WHERE tenant_id = $1 AND dim = 't'",
        [INGEST_TENANT],
      ),
    ).toBe(project * TINY.batch)
  })
})
