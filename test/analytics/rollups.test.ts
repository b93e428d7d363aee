// The rollups under the conditions that could break them: many concurrent writers (two stores, so two
// group-commit queues) on the same sessions, hours and personalities while sessions are deleted; turns
// updated in place; and the migration's backfill of rows stored before the rollups existed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadMigrations, migrate } from '../../src/db/migrate.js'
import { newId } from '../../src/store/ids.js'
import { insertInteractions } from '../../src/store/interactions.js'
import { openStore, type Store } from '../../src/store/store.js'
import { backend, openTestStore, serverBackend, storeOptions, type TestStore } from '../support/store.js'
import { expectFiguresMatch, rawInteractions, rawPersonalities } from './reference.js'

const FROM = '2026-01-01T00:00:00Z'
const TO = '2026-04-01T00:00:00Z'

async function expectExact(t: TestStore, store: Store, tenant: string): Promise<void> {
  const got = await store.analytics.personalities({ from: FROM, to: TO, bucket: 'hour' })
  const raw = await rawPersonalities(t, tenant, FROM, TO, 'hour')
  const flat = got.personalities.flatMap((p) =>
    p.buckets.map((b) => ({
      start: b.start,
      robot_personality: p.robotPersonality,
      turns: b.turns,
      sessions: b.sessions,
      user: b.avgUserMessageLength,
      response: b.avgResponseLength,
    })),
  )
  flat.sort(
    (a, b) => a.start.localeCompare(b.start) || a.robot_personality.localeCompare(b.robot_personality),
  )
  expect(
    flat.map(({ start, robot_personality, turns, sessions }) => ({
      start,
      robot_personality,
      turns,
      sessions,
    })),
  ).toEqual(
    raw.map(({ start, robot_personality, turns, sessions }) => ({
      start,
      robot_personality,
      turns,
      sessions,
    })),
  )
  raw.forEach((r, i) => {
    // An hour whose turns all await their answers has no average: null on both sides.
    for (const [got, want] of [
      [flat[i]?.user, r.avg_user],
      [flat[i]?.response, r.avg_response],
    ] as const) {
      if (want === null) expect(got).toBeNull()
      else expect(got).toBeCloseTo(want, 9)
    }
  })
}

describe(`rollups under concurrency, updates and backfill (${backend})`, () => {
  let t: TestStore
  let second: Store
  beforeAll(async () => {
    t = await openTestStore('rollups')
    // PGlite is one process's database: there the second writer shares the store (one connection).
    second = serverBackend ? await openStore(storeOptions(t.db)) : t.store
  }, 300_000)
  afterAll(async () => {
    if (serverBackend) await second?.close()
    await t?.cleanup()
  })

  it('stays exact with concurrent writers on shared sessions and hours while sessions are deleted', async () => {
    const stores = [t.store.tenant('busy'), second.tenant('busy')]
    const hours = ['2026-02-01T10:', '2026-02-01T11:', '2026-02-01T12:']
    const writes: Array<Promise<unknown>> = []
    for (let i = 0; i < 600; i++) {
      const store = stores[i % 2] as Store
      writes.push(
        store.recordTurn({
          sessionId: `s${i % 12}`,
          robotPersonality: ['a', 'b', 'c'][i % 3] as string,
          userMessage: 'x'.repeat(1 + (i % 17)),
          robotResponse: 'y'.repeat(i % 23),
          id: newId(),
          createdAt: `${hours[(i * 7) % 3]}${String(i % 60).padStart(2, '0')}:00Z`,
        }),
      )
      if (i === 299) {
        // The sessions exist by now; they are deleted while the second half is being written.
        await Promise.all(writes.splice(0))
        writes.push(
          stores[0]?.deleteSession('s1') as Promise<void>,
          stores[1]?.deleteSession('s2') as Promise<void>,
        )
      }
    }
    const results = await Promise.allSettled(writes)
    const failed = results.filter((r) => r.status === 'rejected')
    expect(failed.map((f) => String((f as PromiseRejectedResult).reason))).toEqual([])
    await expectExact(t, stores[0] as Store, 'busy')
    // Concurrent event batches on the same hour and keys.
    const events = Array.from({ length: 8 }, (_, b) =>
      Array.from({ length: 250 }, (_, i) => ({
        robotId: `r${i % 3}`,
        interactionType: 'wave',
        durationMs: (b * 250 + i) % 1000,
        success: i % 5 !== 0,
        id: newId(),
        createdAt: `2026-02-01T10:${String(i % 60).padStart(2, '0')}:00Z`,
      })),
    )
    await Promise.all(events.map((batch, b) => (stores[b % 2] as Store).recordInteractions(batch)))
    const got = await (stores[1] as Store).analytics.interactions({ from: FROM, to: TO })
    const raw = await rawInteractions(t, 'busy', FROM, TO, null, 'robot_id')
    expect(got.groups.map((g) => [g.key, g.count, g.successes, g.durationMs.max])).toEqual(
      raw.map((r) => [r.key, r.count, r.successes, r.max]),
    )
  })

  it('follows turns updated in place (an answer changed or added), and ignores other updates', async () => {
    const s = t.store.tenant('edits')
    const turn = await s.recordTurn({
      sessionId: 'e1',
      robotPersonality: 'p',
      userMessage: 'abc',
      robotResponse: 'short',
      createdAt: '2026-02-03T04:05:06Z',
    })
    await s.recordTurn({
      sessionId: 'e1',
      robotPersonality: 'p',
      userMessage: 'abcdef',
      robotResponse: 'r',
      createdAt: '2026-02-03T04:15:06Z',
    })
    await t.ownerQuery(
      `UPDATE robot_brain.conversations SET robot_response = repeat('z', 40) WHERE id = $1`,
      [turn.id],
    )
    await t.ownerQuery(
      `UPDATE robot_brain.conversations SET metadata = '{"seen": true}' WHERE tenant_id = 'edits'`,
    )
    await expectExact(t, s, 'edits')
    const [p] = (await s.analytics.personalities({ from: FROM, to: TO })).personalities
    expect(p?.avgResponseLength).toBe(41 / 2)
  })

  it('follows the messages API: pending turns completed later, turns deleted one by one', async () => {
    const s = t.store.tenant('messages')
    const pending = []
    for (let i = 0; i < 6; i++) {
      pending.push(
        await s.recordTurn({
          sessionId: `m${i % 2}`,
          robotPersonality: i % 3 === 0 ? 'calm' : 'loud',
          userMessage: 'q'.repeat(3 + i),
          robotResponse: null,
          createdAt: `2026-02-05T0${i}:30:00Z`,
        }),
      )
    }
    // Awaiting answers: counted as turns, with no response length yet.
    await expectExact(t, s, 'messages')
    for (const [i, turn] of pending.entries()) {
      if (i % 3 !== 2)
        await s.completeTurn(turn.sessionId, turn.id, { robotResponse: 'a'.repeat(10 * (i + 1)) })
    }
    await expectExact(t, s, 'messages')
    await s.deleteTurn('m0', pending[0]?.id as string)
    await s.deleteTurn('m1', pending[5]?.id as string)
    await expectExact(t, s, 'messages')
    const left = (await s.analytics.personalities({ from: FROM, to: TO })).personalities
    expect(left.map((p) => [p.robotPersonality, p.turns]).sort()).toEqual([
      ['calm', 1],
      ['loud', 3],
    ])
  })

  it('keeps sketches exact and bounded when many batches reach one hour and day (compaction)', async () => {
    const s = t.store.tenant('many')
    // 40 batches of 100 distinct durations from 1 ms to about 17 minutes: about 4,000 sketch entries
    // appended to one hourly and one daily row per key, compacted past twice the size of
    // their last compaction (migrations 0021 and 0024), at most 896.
    for (let b = 0; b < 40; b++) {
      await s.recordInteractions(
        Array.from({ length: 100 }, (_, i) => ({
          robotId: 'solo',
          interactionType: 'beep',
          durationMs: Math.floor(Math.exp(((((b * 100 + i) * 7919) % 4000) / 4000) * 13.8)),
          success: (b + i) % 4 !== 0,
          id: newId(),
          createdAt: `2026-03-10T07:${String((b + i) % 60).padStart(2, '0')}:00Z`,
        })),
      )
    }
    const sizes = await t.ownerQuery<{ n: number; compacted: number }>(
      `SELECT cardinality(sketch_entries) AS n, sketch_compacted AS compacted
       FROM robot_brain.interaction_rollups WHERE tenant_id = 'many'
       UNION ALL
       SELECT cardinality(sketch_entries), sketch_compacted
       FROM robot_brain.interaction_day_rollups WHERE tenant_id = 'many'`,
    )
    expect(sizes).toHaveLength(3)
    for (const { n, compacted } of sizes) {
      // -1: the last write compacted the row, whose length is then its compacted size (migration 0024).
      const size = compacted < 0 ? n : compacted
      // A wide sketch (hundreds of buckets) grows to twice its compacted size before the next compaction.
      expect(size).toBeGreaterThan(220)
      expect(n).toBeLessThanOrEqual(Math.min(896, 2 * size))
    }
    for (const [groupBy, column] of [
      ['robotId', 'robot_id'],
      ['interactionType', 'interaction_type'],
    ] as const) {
      for (const bucket of ['hour', 'day', null] as const) {
        const got = await s.analytics.interactions({ from: FROM, to: TO, groupBy, bucket })
        const raw = await rawInteractions(t, 'many', FROM, TO, bucket, column)
        const g = got.groups[0]
        const figures = bucket ? g?.buckets[0] : g
        expect(got.groups).toHaveLength(1)
        expectFiguresMatch(figures, raw[0])
      }
    }
  })

  it('keeps the rows of a sketch of fewer than 440 buckets under 440 entries, exact', async () => {
    const s = t.store.tenant('narrow')
    // 30 batches of 60 durations from 100 to 1,000 ms (about 120 buckets): 1,800 entries appended.
    for (let b = 0; b < 30; b++) {
      await s.recordInteractions(
        Array.from({ length: 60 }, (_, i) => ({
          robotId: 'solo',
          interactionType: 'beep',
          durationMs: 100 + (((b * 60 + i) * 7919) % 901),
          success: i % 3 !== 0,
          id: newId(),
          createdAt: `2026-03-10T09:${String(i).padStart(2, '0')}:00Z`,
        })),
      )
    }
    const sizes = await t.ownerQuery<{ n: number }>(
      `SELECT cardinality(sketch_entries) AS n FROM robot_brain.interaction_rollups WHERE tenant_id = 'narrow'
       UNION ALL
       SELECT cardinality(sketch_entries) FROM robot_brain.interaction_day_rollups WHERE tenant_id = 'narrow'`,
    )
    expect(sizes).toHaveLength(3)
    for (const { n } of sizes) expect(n).toBeLessThanOrEqual(440)
    const got = await s.analytics.interactions({ from: FROM, to: TO, groupBy: 'robotId' })
    const raw = await rawInteractions(t, 'narrow', FROM, TO, null, 'robot_id')
    expectFiguresMatch(got.groups[0], raw[0])
  })

  it('compacts a bucket count of 2^32 or more into several entries, losing nothing', async () => {
    const [row] = await t.ownerQuery<{ entries: string[]; total: string }>(
      `SELECT c AS entries, (SELECT sum(e & 4294967295) FROM unnest(c) e)::text AS total
       FROM (SELECT robot_brain.sketch_compact(ARRAY[robot_brain.sketch_entry(3, 4294967295),
                                                     robot_brain.sketch_entry(3, 7),
                                                     robot_brain.sketch_entry(-1, 2)]) AS c) x`,
    )
    expect(row?.entries).toHaveLength(3)
    expect(row?.total).toBe(String(4294967295 + 7 + 2))
  })

  // Online: each adds columns to a table that batches of events write (0021 sketch_compacted, on the
  // hourly and daily rollups; 0022 day_answer and day_answer_epoch on the daily rollups, and run_packed
  // on the answers; 0025 the kept counts on the epochs, which late batches raise), which needs an
  // exclusive lock for an instant. A writer's open transaction on that table makes it wait at most its
  // 2 s lock timeout and fail (writers queue behind it no longer than that), and it succeeds once the
  // table is free.
  const busyDayRollup = `INSERT INTO robot_brain.interaction_day_rollups (tenant_id, dim, day, key, events, successes, duration_sum, duration_max, sketch_entries)
           VALUES ('busy', 'r', '2026-03-01T00:00:00Z', 'r1', 1, 1, 5, 5, '{}')`
  const busyEpoch = `INSERT INTO robot_brain.analytics_epochs (tenant_id, epoch) VALUES ('busy', 1)`
  it.skipIf(!serverBackend).each([
    [21, ['sketch_compacted', 'sketch_compacted'], busyDayRollup],
    [22, ['day_answer', 'day_answer_epoch', 'run_packed'], busyDayRollup],
    [25, ['kept_before', 'kept_raises', 'kept_since'], busyEpoch],
  ])('migration %i gives way to a busy rollup table within 2 s', async (version, columns, busy) => {
    const db = await openTestStore(`rollups_${version}_lock`, { migrate: false })
    try {
      const owner = db.store.transport.owner
      const all = loadMigrations().filter((m) => m.version <= version)
      await migrate(
        owner,
        {},
        all.filter((m) => m.version < version),
      )
      const writer = await owner.connect()
      try {
        await writer.query('BEGIN')
        await writer.query(busy)
        const started = Date.now()
        await expect(migrate(owner, {}, all)).rejects.toThrow(/lock timeout/)
        expect(Date.now() - started).toBeLessThan(8_000)
        await writer.query('COMMIT')
      } finally {
        writer.release()
      }
      await migrate(owner, {}, all)
      const found = await db.ownerQuery<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns
         WHERE table_schema = 'robot_brain' AND column_name = ANY ($1) ORDER BY column_name`,
        [columns],
      )
      expect(found.map((c) => c.column_name)).toEqual([...columns].sort())
    } finally {
      await db.cleanup()
    }
  })

  // Online: 0024 replaces the sketch functions that every batch of events calls, in place. A batch
  // written and not yet committed (its statement used the functions of 0021) does not make it wait,
  // that batch commits, and batches on either side of it stay exact, compacted rows included.
  it.skipIf(!serverBackend)(
    'migration 0024 replaces the sketch functions while a batch that used them is uncommitted',
    async () => {
      const db = await openTestStore('rollups_24_online', { migrate: false })
      try {
        const owner = db.store.transport.owner
        const all = loadMigrations().filter((m) => m.version <= 24)
        await migrate(
          owner,
          {},
          all.filter((m) => m.version < 24),
        )
        const batch = (b: number) =>
          Array.from({ length: 300 }, (_, i) => ({
            id: newId(),
            robotId: 'solo',
            interactionType: 'beep',
            durationMs: 1 + (((b * 300 + i) * 7919) % 20000),
            success: i % 5 !== 0,
            metadata: {},
            createdAt: new Date(`2026-03-10T07:${String(i % 60).padStart(2, '0')}:00Z`),
          }))
        // This version's write path also counts epoch raises in 0025's columns: 0025's SQL runs by hand
        // for these batches, and its columns are dropped before the store migrates.
        await db.ownerQuery((loadMigrations().find((m) => m.version === 25) as { sql: string }).sql)
        // Two batches through 0021's functions (the second compacts: 600 entries a row), then one
        // left uncommitted.
        for (const b of [0, 1]) await insertInteractions(owner, 'online', batch(b))
        const writer = await owner.connect()
        try {
          await writer.query('BEGIN')
          expect(await insertInteractions(writer, 'online', batch(2))).toBe(300)
          const started = Date.now()
          await migrate(owner, {}, all)
          expect(Date.now() - started).toBeLessThan(2_000)
          await writer.query('COMMIT')
        } finally {
          writer.release()
        }
        for (const b of [3, 4]) await insertInteractions(owner, 'online', batch(b))
        await db.ownerQuery(
          'ALTER TABLE robot_brain.analytics_epochs DROP COLUMN kept_since, DROP COLUMN kept_raises, DROP COLUMN kept_before',
        )
        await db.store.migrate()
        const s = db.store.tenant('online')
        for (const [groupBy, column] of [
          ['robotId', 'robot_id'],
          ['interactionType', 'interaction_type'],
        ] as const) {
          for (const bucket of ['hour', null] as const) {
            const got = await s.analytics.interactions({ from: FROM, to: TO, groupBy, bucket })
            const raw = await rawInteractions(db, 'online', FROM, TO, bucket, column)
            const g = got.groups[0]
            expect(g?.count).toBe(1500)
            expectFiguresMatch(bucket ? g?.buckets[0] : g, raw[0])
          }
        }
      } finally {
        await db.cleanup()
      }
    },
  )

  it('backfills rows stored before the rollups existed, when the migration runs', async () => {
    const db = await openTestStore('rollups_backfill', { migrate: false })
    try {
      const before = loadMigrations().filter((m) => m.version < 6)
      await migrate(db.store.transport.owner, {}, before)
      await db.ownerQuery(
        `INSERT INTO robot_brain.sessions (tenant_id, id) VALUES ('old', 'o1'), ('old', 'o2')`,
      )
      await db.ownerQuery(
        `INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
         SELECT 'old', gen_random_uuid(), 'o' || (1 + i % 2), 'p' || (i % 3), repeat('u', i % 50), repeat('r', i % 70),
                timestamptz '2026-02-27T00:00:00Z' + i * interval '37 minutes'
         FROM generate_series(1, 500) i`,
      )
      await db.ownerQuery(
        `INSERT INTO robot_brain.robot_interactions (tenant_id, id, robot_id, interaction_type, duration_ms, success, created_at)
         SELECT 'old', gen_random_uuid(), 'r' || (i % 4), 't' || (i % 2), (i * 7919) % 5000, i % 3 <> 0,
                timestamptz '2026-02-27T00:00:00Z' + i * interval '3 minutes'
         FROM generate_series(1, 2000) i`,
      )
      await db.store.migrate()
      const s = db.store.tenant('old')
      await expectExact(db, s, 'old')
      // Daily rows (migration 0016, from the hourly jsonb sketches of 0006) and hourly rows, whose
      // sketches are still jsonb; then more events through the write path, appended as entries.
      const compare = async (from: string, to: string, bucket: 'day' | 'hour') => {
        const got = await s.analytics.interactions({ from, to, groupBy: 'robotId', bucket })
        const raw = await rawInteractions(db, 'old', from, to, bucket, 'robot_id')
        const flat = got.groups.flatMap((g) => g.buckets.map((b) => ({ key: g.key, ...b })))
        expect(flat).toHaveLength(raw.length)
        for (const r of raw) {
          expectFiguresMatch(
            flat.find((x) => x.key === r.key && x.start === r.start),
            r,
          )
        }
      }
      const check = async () => {
        for (const bucket of ['day', 'hour'] as const) await compare(FROM, TO, bucket)
        // A closed start day read as its stored suffix (migration 0022), filled from hourly rows
        // whose sketches are jsonb (the first check) or both forms (the second).
        await compare('2026-02-27T03:30:00Z', '2026-03-01T00:00:00Z', 'day')
      }
      await check()
      const [suffixes] = await db.ownerQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM robot_brain.interaction_closed_suffixes
         WHERE tenant_id = 'old' AND since = '2026-02-27T04:00:00Z'`,
      )
      expect(suffixes?.n).toBe(4)
      await s.recordInteractions(
        Array.from({ length: 300 }, (_, i) => ({
          robotId: `r${i % 4}`,
          interactionType: `t${i % 2}`,
          durationMs: (i * 104729) % 7000,
          success: i % 7 !== 0,
          id: newId(),
          createdAt: new Date(Date.parse('2026-02-27T00:00:00Z') + i * 17 * 60_000).toISOString(),
        })),
      )
      await check()
    } finally {
      await db.cleanup()
    }
  })
})
