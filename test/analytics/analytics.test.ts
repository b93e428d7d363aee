// Analytics from the real-time rollups against figures computed independently from the raw rows:
// random data over month and day boundaries, ranges with offsets, every bucket, empty ranges, bad
// input, tenant isolation, replays, deleted sessions and completed... on every backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fillClosedDays } from '../../src/analytics/closed-days.js'
import { fillClosedSuffixes } from '../../src/analytics/closed-suffixes.js'
import type { InteractionFigures } from '../../src/analytics/interactions.js'
import type { Bucket } from '../../src/analytics/range.js'
import { ValidationError } from '../../src/errors.js'
import { newId } from '../../src/store/ids.js'
import type { Store } from '../../src/store/store.js'
import type { InteractionInput, TurnInput } from '../../src/store/types.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'
import { expectFiguresMatch, type RawInteraction, rawInteractions, rawPersonalities } from './reference.js'

/** A small deterministic generator (mulberry32), so a failure can be rerun with the same data. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// The data spans 2026-01-30 18:00Z to 2026-03-02 06:00Z: a month boundary twice, many day boundaries.
const START = Date.parse('2026-01-30T18:00:00Z')
const SPAN = Date.parse('2026-03-02T06:00:00Z') - START
const SEED = Number(process.env.ANALYTICS_SEED ?? 20261130)

function makeTurns(random: () => number, n: number, tag: string): TurnInput[] {
  return Array.from({ length: n }, () => ({
    sessionId: `${tag}-s${Math.floor(random() * 25)}`,
    robotPersonality: ['cheerful', 'stoic', 'pirate', 'poet'][Math.floor(random() * 4)] as string,
    userMessage: 'u'.repeat(1 + Math.floor(random() * 300)),
    robotResponse: 'r'.repeat(Math.floor(random() * 900)),
    id: newId(),
    createdAt: new Date(START + Math.floor(random() * SPAN)).toISOString(),
  }))
}

function makeEvents(random: () => number, n: number): InteractionInput[] {
  return Array.from({ length: n }, () => {
    const shape = random()
    // Zeros, small values (each its own bucket) and a long tail up to minutes.
    const durationMs =
      shape < 0.05 ? 0 : shape < 0.3 ? Math.floor(random() * 20) : Math.floor(Math.exp(random() * 12))
    return {
      robotId: `robot-${Math.floor(random() * 4)}`,
      interactionType: ['wave', 'speak', 'navigate'][Math.floor(random() * 3)] as string,
      durationMs,
      success: random() < 0.8,
      id: newId(),
      createdAt: new Date(START + Math.floor(random() * SPAN)).toISOString(),
      metadata: {},
    }
  })
}

/** One event of robot r1 (type wave) or r2 (speak) at an instant, for tests of range edges. */
const at = (iso: string, robotId: string, durationMs: number): InteractionInput => ({
  robotId,
  interactionType: robotId === 'r1' ? 'wave' : 'speak',
  durationMs,
  success: durationMs % 3 !== 0,
  id: newId(),
  createdAt: iso,
})

describe(`analytics (${backend})`, () => {
  let t: TestStore
  let a: Store
  let b: Store
  const random = rng(SEED)
  const turnsA = makeTurns(random, 400, 'a')
  const eventsA = makeEvents(random, 3000)

  beforeAll(async () => {
    t = await openTestStore('analytics')
    a = t.store.tenant('acme')
    b = t.store.tenant('bravo')
    // Concurrent turns: they go through group commit in multi-row batches.
    for (let i = 0; i < turnsA.length; i += 50) {
      await Promise.all(turnsA.slice(i, i + 50).map((turn) => a.recordTurn(turn)))
    }
    // Concurrent event calls: group commit merges them, one statement of the tenant at a time.
    for (let i = 0; i < eventsA.length; i += 1500) {
      await Promise.all([0, 500, 1000].map((j) => a.recordInteractions(eventsA.slice(i + j, i + j + 500))))
    }
    // Another tenant, same keys: must never show in acme's figures.
    await Promise.all(makeTurns(random, 60, 'a').map((turn) => b.recordTurn(turn)))
    await b.recordInteractions(makeEvents(random, 400))
  }, 300_000)
  afterAll(async () => {
    await t?.cleanup()
  })

  async function expectPersonalitiesMatch(
    store: Store,
    tenant: string,
    from: string,
    to: string,
    bucket: Bucket | null,
  ) {
    const got = await store.analytics.personalities({ from, to, bucket })
    const fromIso = new Date(from).toISOString()
    const toIso = new Date(to).toISOString()
    const totals = await rawPersonalities(t, tenant, fromIso, toIso, null)
    expect(got.personalities.map((p) => p.robotPersonality).sort()).toEqual(
      totals.map((r) => r.robot_personality).sort(),
    )
    for (const raw of totals) {
      const p = got.personalities.find((x) => x.robotPersonality === raw.robot_personality)
      expect(p, raw.robot_personality).toBeDefined()
      expect({ turns: p?.turns, sessions: p?.sessions }).toEqual({ turns: raw.turns, sessions: raw.sessions })
      expect(p?.avgUserMessageLength).toBeCloseTo(raw.avg_user ?? Number.NaN, 9)
      expect(p?.avgResponseLength).toBeCloseTo(raw.avg_response ?? Number.NaN, 9)
    }
    if (!bucket) {
      for (const p of got.personalities) expect(p.buckets).toEqual([])
      return got
    }
    const perBucket = await rawPersonalities(t, tenant, fromIso, toIso, bucket)
    const flat = got.personalities.flatMap((p) =>
      p.buckets.map((x) => ({ ...x, robotPersonality: p.robotPersonality })),
    )
    expect(flat).toHaveLength(perBucket.length)
    for (const raw of perBucket) {
      const x = flat.find((f) => f.robotPersonality === raw.robot_personality && f.start === raw.start)
      expect(x, `${raw.robot_personality} ${raw.start}`).toBeDefined()
      expect({ turns: x?.turns, sessions: x?.sessions }).toEqual({ turns: raw.turns, sessions: raw.sessions })
      expect(x?.avgUserMessageLength).toBeCloseTo(raw.avg_user ?? Number.NaN, 9)
    }
    return got
  }

  async function expectInteractionsMatch(
    store: Store,
    tenant: string,
    from: string,
    to: string,
    bucket: Bucket | null,
    groupBy: 'robotId' | 'interactionType',
  ) {
    const got = await store.analytics.interactions({ from, to, bucket, groupBy })
    const column = groupBy === 'robotId' ? 'robot_id' : 'interaction_type'
    const fromIso = new Date(from).toISOString()
    const toIso = new Date(to).toISOString()
    const check = (g: InteractionFigures, raw: RawInteraction) => {
      expectFiguresMatch(g, raw)
      expect(g.successRate).toBeCloseTo(raw.successes / raw.count, 12)
      expect(g.durationMs.avg).toBeCloseTo(raw.avg, 9)
    }
    const totals = await rawInteractions(t, tenant, fromIso, toIso, null, column)
    expect(got.groups.map((g) => g.key).sort()).toEqual(totals.map((r) => r.key).sort())
    for (const raw of totals) {
      const g = got.groups.find((x) => x.key === raw.key)
      expect(g).toBeDefined()
      if (g) check(g, raw)
    }
    if (bucket) {
      const perBucket = await rawInteractions(t, tenant, fromIso, toIso, bucket, column)
      const flat = got.groups.flatMap((g) => g.buckets.map((x) => ({ ...x, key: g.key })))
      expect(flat).toHaveLength(perBucket.length)
      for (const raw of perBucket) {
        const x = flat.find((f) => f.key === raw.key && f.start === raw.start)
        expect(x, `${raw.key} ${raw.start}`).toBeDefined()
        if (x) check(x, raw)
      }
    }
    return got
  }

  /** Both groupings, per day and over the whole range. */
  async function expectDaysAndTotalsMatch(store: Store, tenant: string, from: string, to: string) {
    for (const bucket of ['day', null] as const) {
      await expectInteractionsMatch(store, tenant, from, to, bucket, 'robotId')
      await expectInteractionsMatch(store, tenant, from, to, bucket, 'interactionType')
    }
  }

  it('matches the raw rows over the whole data, per month, week, day and hour', async () => {
    const from = '2026-01-01T00:00:00Z'
    const to = '2026-04-01T00:00:00Z'
    const whole = await expectPersonalitiesMatch(a, 'acme', from, to, null)
    expect(whole.personalities.reduce((s, p) => s + p.turns, 0)).toBe(turnsA.length)
    for (const bucket of ['month', 'week', 'day'] as const) {
      await expectPersonalitiesMatch(a, 'acme', from, to, bucket)
      await expectInteractionsMatch(a, 'acme', from, to, bucket, 'robotId')
    }
    const i = await expectInteractionsMatch(a, 'acme', from, to, null, 'interactionType')
    expect(i.groups.reduce((s, g) => s + g.count, 0)).toBe(eventsA.length)
    await expectInteractionsMatch(
      a,
      'acme',
      '2026-02-10T00:00:00Z',
      '2026-02-12T00:00:00Z',
      'hour',
      'interactionType',
    )
    await expectPersonalitiesMatch(a, 'acme', '2026-02-10T00:00:00Z', '2026-02-12T00:00:00Z', 'hour')
  })

  it('counts the partial hours at both ends exactly, with from/to given at any offset', async () => {
    const ranges: Array<[string, string]> = [
      ['2026-02-01T00:00:00+05:30', '2026-02-28T23:59:59.999-03:00'], // both ends mid-hour
      ['2026-01-31T23:17:42.5Z', '2026-02-01T00:45:00Z'], // across the month boundary, under two hours
      ['2026-02-14T10:15:00+01:00', '2026-02-14T10:40:00+01:00'], // inside one hour
      ['2026-02-03T00:00:00Z', '2026-02-03T00:30:00Z'], // from on the hour, to inside the same hour
      // Partial days mostly inside the range: each is its whole day less the hours outside.
      ['2026-02-03T01:30:00Z', '2026-02-20T22:15:00Z'],
      ['2026-02-03T02:00:00+00:00', '2026-02-20T23:00:00Z'], // both ends on the hour
      ['2026-01-31T00:10:00Z', '2026-03-01T23:59:00Z'], // a month boundary inside, the last day of the data
    ]
    for (const [from, to] of ranges) {
      await expectPersonalitiesMatch(a, 'acme', from, to, 'day')
      await expectInteractionsMatch(a, 'acme', from, to, 'day', 'robotId')
      await expectInteractionsMatch(a, 'acme', from, to, null, 'interactionType')
    }
  })

  it('reads the partial end day whole only when nothing is stored after the range end in that day', async () => {
    const s = t.store.tenant('tail')
    await s.recordInteractions([
      at('2026-03-08T13:00:00Z', 'r1', 40),
      at('2026-03-09T07:00:00Z', 'r2', 70),
      // Day 10: nothing after 11:30; after 08:30 in the same hour (08:50) and in a later hour (11:00).
      at('2026-03-10T08:05:00Z', 'r1', 120),
      at('2026-03-10T08:20:00Z', 'r2', 9000),
      at('2026-03-10T08:50:00Z', 'r1', 30000),
      at('2026-03-10T11:00:00Z', 'r2', 45000),
      // Day 11: after 09:20 only in the same hour (09:40, the day's max).
      at('2026-03-11T09:10:00Z', 'r1', 15),
      at('2026-03-11T09:40:00Z', 'r2', 60000),
    ])
    const ends = [
      ['2026-03-08T12:00:00Z', '2026-03-10T11:30:00Z'], // read whole: nothing after the end that day
      ['2026-03-08T12:00:00Z', '2026-03-10T08:30:00Z'], // events after the end, that hour and later
      ['2026-03-08T12:00:00Z', '2026-03-10T09:00:00Z'], // on the hour; an event in a later hour
      ['2026-03-09T00:00:00Z', '2026-03-11T09:20:00Z'], // an event after the end in its own hour only
    ]
    for (const [from, to] of ends) await expectDaysAndTotalsMatch(s, 'tail', from as string, to as string)
    // Taken, not only exact: with the end day's hourly rows before the range end made wrong, the
    // answer of the first range (read whole: its daily rows) is still right.
    await t.ownerQuery(
      `UPDATE robot_brain.interaction_rollups SET events = events + 1000
       WHERE tenant_id = 'tail' AND hour >= '2026-03-10T00:00:00Z' AND hour < '2026-03-10T11:00:00Z'`,
    )
    await expectInteractionsMatch(s, 'tail', '2026-03-08T12:00:00Z', '2026-03-10T11:30:00Z', 'day', 'robotId')
  })

  it('reads a closed partial start day as its stored suffix, filled again when missing or stale', async () => {
    const s = t.store.tenant('head')
    await s.recordInteractions([
      // Day 3: two events before the range (05:30), one in its edge hour, two in its whole hours.
      at('2026-03-03T02:10:00Z', 'r1', 100),
      at('2026-03-03T04:20:00Z', 'r2', 5000),
      at('2026-03-03T05:45:00Z', 'r2', 800),
      at('2026-03-03T07:30:00Z', 'r1', 250),
      at('2026-03-03T15:00:00Z', 'r2', 30000),
      at('2026-03-04T10:00:00Z', 'r1', 40),
      at('2026-03-05T09:00:00Z', 'r2', 70),
    ])
    const from = '2026-03-03T05:30:00Z'
    const to = '2026-03-05T12:00:00Z'
    const expectAll = () => expectDaysAndTotalsMatch(s, 'head', from, to)
    // The stored suffixes from 06:00 of day 3, and whether each is of the tenant's current epoch.
    const suffixes = () =>
      t.ownerQuery<{ dim: string; key: string; events: number; current: boolean }>(
        `SELECT dim, key, events::int AS events,
                epoch = (SELECT epoch FROM robot_brain.analytics_epochs WHERE tenant_id = 'head') AS current
         FROM robot_brain.interaction_closed_suffixes
         WHERE tenant_id = 'head' AND since = '2026-03-03T06:00:00Z' ORDER BY dim, key`,
      )
    const rows = (r1: number, wave: number) => [
      { dim: 'r', key: 'r1', events: r1, current: true },
      { dim: 'r', key: 'r2', events: 1, current: true },
      { dim: 't', key: 'speak', events: 1, current: true },
      { dim: 't', key: 'wave', events: wave, current: true },
    ]
    await expectAll()
    expect(await suffixes()).toEqual(rows(1, 1))
    // Taken, not only exact: with day 3's daily sketches (which the day less its early hours would
    // read) moved five buckets up, the answers stay right.
    const shiftDay3 = (by: number) =>
      t.ownerQuery(
        `UPDATE robot_brain.interaction_day_rollups
         SET sketch_entries = ARRAY(SELECT e + (${by}::bigint << 32) FROM unnest(sketch_entries) e)
         WHERE tenant_id = 'head' AND day = '2026-03-03T00:00:00Z'`,
      )
    await shiftDay3(5)
    await expectAll()
    await shiftDay3(-5)
    // A missing row is filled again before the answer.
    await t.ownerQuery(
      `DELETE FROM robot_brain.interaction_closed_suffixes WHERE tenant_id = 'head' AND key IN ('r2', 'wave')`,
    )
    await expectAll()
    expect(await suffixes()).toEqual(rows(1, 1))
    // A late event in the suffix raises the epoch: the stored rows are stale, and filled again.
    await s.recordInteractions([at('2026-03-03T20:00:00Z', 'r1', 9000)])
    await expectAll()
    expect(await suffixes()).toEqual(rows(2, 2))
    // A fill deletes the tenant's rows filled more than two hours ago, and only those.
    await t.ownerQuery(
      `UPDATE robot_brain.interaction_closed_suffixes SET filled_at = now() - interval '3 hours'
       WHERE tenant_id = 'head' AND key = 'r1'`,
    )
    expect(
      await fillClosedSuffixes(t.store.transport.app, 'head', 'r', new Date('2026-03-04T06:00:00Z')),
    ).toBe(1)
    expect((await suffixes()).map((r) => r.key)).toEqual(['r2', 'speak', 'wave'])
  })

  it('reads a closed start day with more hours before the range than in it as its suffix too', async () => {
    const s = t.store.tenant('late-start')
    await s.recordInteractions([
      // Day 3: one event before the range, one in its edge hour (14:00), two in its whole hours.
      at('2026-03-03T02:10:00Z', 'r1', 100),
      at('2026-03-03T14:40:00Z', 'r2', 800),
      at('2026-03-03T15:00:00Z', 'r2', 30000),
      at('2026-03-03T21:30:00Z', 'r1', 250),
      at('2026-03-04T10:00:00Z', 'r1', 40),
      at('2026-03-05T09:00:00Z', 'r2', 70),
    ])
    // Nine whole hours of day 3 in the range, fourteen before it: not complemented, so before the
    // suffix it read day 3's hourly rows with their sketches, one a key and hour.
    const from = '2026-03-03T14:30:00Z'
    const to = '2026-03-05T12:00:00Z'
    const expectAll = () => expectDaysAndTotalsMatch(s, 'late-start', from, to)
    await expectAll()
    expect(
      await t.ownerQuery(
        `SELECT dim, key, events::int AS events FROM robot_brain.interaction_closed_suffixes
         WHERE tenant_id = 'late-start' AND since = '2026-03-03T15:00:00Z' ORDER BY dim, key`,
      ),
    ).toEqual([
      { dim: 'r', key: 'r1', events: 1 },
      { dim: 'r', key: 'r2', events: 1 },
      { dim: 't', key: 'speak', events: 1 },
      { dim: 't', key: 'wave', events: 1 },
    ])
    // Taken, not only exact: with the sketches of day 3's hourly rows in the range moved five buckets
    // up, the answers stay right.
    await t.ownerQuery(
      `UPDATE robot_brain.interaction_rollups
       SET sketch_entries = ARRAY(SELECT e + (5::bigint << 32) FROM unnest(sketch_entries) e)
       WHERE tenant_id = 'late-start' AND hour >= '2026-03-03T15:00:00Z' AND hour < '2026-03-04T00:00:00Z'`,
    )
    await expectAll()
  })

  it('puts a turn just before midnight UTC in that day and month, whatever offset the range uses', async () => {
    const s = t.store.tenant('edges')
    await s.recordTurn({
      sessionId: 'e',
      robotPersonality: 'p',
      userMessage: 'x',
      robotResponse: 'y',
      createdAt: '2026-01-31T23:59:59.999Z',
    })
    await s.recordTurn({
      sessionId: 'e',
      robotPersonality: 'p',
      userMessage: 'x',
      robotResponse: 'y',
      createdAt: '2026-02-01T00:00:00Z',
    })
    const got = await s.analytics.personalities({
      from: '2026-01-31T20:00:00-05:00',
      to: '2026-02-02T00:00:00Z',
      bucket: 'month',
    })
    expect(got.from).toBe('2026-02-01T01:00:00.000Z')
    // From 01:00Z on Feb 1: only the turn at midnight... which is before from: none in range.
    expect(got.personalities).toEqual([])
    const all = await s.analytics.personalities({
      from: '2026-01-31T18:00:00-06:00',
      to: '2026-02-01T01:00:00+01:00',
      bucket: 'day',
    })
    // [2026-02-01T00:00Z, 2026-02-01T00:00Z): empty again; widen to include both.
    expect(all.personalities).toEqual([])
    const both = await s.analytics.personalities({
      from: '2026-01-31T18:59:59-05:00',
      to: '2026-02-01T00:00:00.001Z',
      bucket: 'month',
    })
    expect(both.personalities).toHaveLength(1)
    expect(both.personalities[0]?.buckets.map((x) => [x.start, x.turns])).toEqual([
      ['2026-01-01T00:00:00.000Z', 1],
      ['2026-02-01T00:00:00.000Z', 1],
    ])
    const days = await s.analytics.personalities({
      from: '2026-01-31T00:00:00Z',
      to: '2026-02-02T00:00:00Z',
      bucket: 'day',
    })
    expect(days.personalities[0]?.buckets.map((x) => [x.start, x.turns])).toEqual([
      ['2026-01-31T00:00:00.000Z', 1],
      ['2026-02-01T00:00:00.000Z', 1],
    ])
  })

  it('answers empty ranges with no groups', async () => {
    const p = await a.analytics.personalities({
      from: '2020-01-01T00:00:00Z',
      to: '2020-02-01T00:00:00Z',
      bucket: 'day',
    })
    expect(p.personalities).toEqual([])
    const i = await a.analytics.interactions({
      from: '2026-02-01T00:00:00Z',
      to: '2026-02-01T00:00:00Z',
      failures: 5,
    })
    expect(i.groups).toEqual([])
    expect(i.latestFailures).toEqual([])
  })

  it('keeps tenants apart', async () => {
    await expectPersonalitiesMatch(b, 'bravo', '2026-01-01T00:00:00Z', '2026-04-01T00:00:00Z', 'month')
    await expectInteractionsMatch(
      b,
      'bravo',
      '2026-01-01T00:00:00Z',
      '2026-04-01T00:00:00Z',
      'month',
      'robotId',
    )
    const none = await t.store
      .tenant('nobody')
      .analytics.interactions({ from: '2026-01-01T00:00:00Z', to: '2026-04-01T00:00:00Z' })
    expect(none.groups).toEqual([])
  })

  it('counts replayed turns and events once', async () => {
    const range = { from: '2026-01-01T00:00:00Z', to: '2026-04-01T00:00:00Z' }
    const before = await a.analytics.interactions(range)
    const beforeTurns = await a.analytics.personalities(range)
    const replayed = await a.recordInteractions(eventsA.slice(0, 200))
    expect(replayed.inserted).toBe(0)
    await Promise.all(turnsA.slice(0, 30).map((turn) => a.recordTurn(turn)))
    expect(await a.analytics.interactions(range)).toEqual(before)
    expect(await a.analytics.personalities(range)).toEqual(beforeTurns)
  })

  it('lists the latest failures of the range, newest first', async () => {
    const from = '2026-02-01T00:00:00Z'
    const to = '2026-02-15T00:00:00Z'
    const got = await a.analytics.interactions({ from, to, failures: 7 })
    const raw = await t.ownerQuery<{ id: string }>(
      `SELECT id::text AS id FROM robot_brain.robot_interactions WHERE tenant_id = 'acme' AND NOT success
         AND created_at >= $1 AND created_at < $2 ORDER BY created_at DESC, id DESC LIMIT 7`,
      [from, to],
    )
    expect(got.latestFailures?.map((f) => f.id)).toEqual(raw.map((r) => r.id))
  })

  it('stays exact after sessions are deleted', async () => {
    await a.deleteSession('a-s3')
    await a.deleteSession('a-s7')
    await expectPersonalitiesMatch(a, 'acme', '2026-01-01T00:00:00Z', '2026-04-01T00:00:00Z', 'day')
    const rows = await t.ownerQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM robot_brain.personality_rollups WHERE tenant_id = 'acme' AND session_id IN ('a-s3', 'a-s7')`,
    )
    expect(rows[0]?.n).toBe(0)
  })

  it('answers closed days from stored answers, and a late event voids them at once (not one of yesterday)', async () => {
    const from = '2026-02-03T00:00:00Z'
    const to = '2026-03-01T00:00:00Z'
    await expectInteractionsMatch(a, 'acme', from, to, 'day', 'robotId')
    const answers = () =>
      t.ownerQuery<{ n: number; epoch: number }>(
        `SELECT count(*)::int AS n, coalesce(max(epoch), -1)::int AS epoch FROM robot_brain.interaction_closed_days
         WHERE tenant_id = 'acme' AND dim = 'r'`,
      )
    const epoch = async () =>
      (
        await t.ownerQuery<{ epoch: number }>(
          `SELECT coalesce((SELECT epoch FROM robot_brain.analytics_epochs WHERE tenant_id = 'acme'), 0)::int AS epoch`,
        )
      )[0]?.epoch
    const days = await t.ownerQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM robot_brain.interaction_day_rollups WHERE tenant_id = 'acme' AND dim = 'r'`,
    )
    // Every closed day of every robot has its answer, under the tenant's current epoch.
    const filled = (await answers())[0]
    expect(filled?.n).toBe(days[0]?.n)
    expect(filled?.epoch).toBe(await epoch())
    const before = await epoch()
    // Events dated now reach no cached day: the epoch stays.
    await a.recordInteractions([
      {
        robotId: 'robot-1',
        interactionType: 'wave',
        durationMs: 5,
        success: true,
        id: newId(),
        metadata: {},
      },
    ])
    expect(await epoch()).toBe(before)
    // Nor do events dated yesterday (UTC): it is not closed yet. In the last hour of a day it is about
    // to be, and they raise the epoch (a write may commit after midnight).
    const now = Date.now()
    const closing = new Date(now + 3_600_000).getUTCDate() !== new Date(now).getUTCDate()
    await a.recordInteractions([
      {
        robotId: 'robot-1',
        interactionType: 'wave',
        durationMs: 7,
        success: true,
        id: newId(),
        metadata: {},
        createdAt: new Date(now - 86_400_000).toISOString(),
      },
    ])
    expect(await epoch()).toBe((before ?? 0) + (closing ? 1 : 0))
    const afterYesterday = await epoch()
    // A late event on an answered day, far slower than any other: the next answer counts it.
    await a.recordInteractions([
      {
        robotId: 'robot-2',
        interactionType: 'wave',
        durationMs: 9_000_000,
        success: false,
        id: newId(),
        metadata: {},
        createdAt: '2026-02-20T12:00:00Z',
      },
    ])
    expect(await epoch()).toBe((afterYesterday ?? 0) + 1)
    const got = await expectInteractionsMatch(a, 'acme', from, to, 'day', 'robotId')
    const robot2 = got.groups.find((g) => g.key === 'robot-2')
    expect(robot2?.durationMs.max).toBe(9_000_000)
    expect(robot2?.buckets.find((x) => x.start === '2026-02-20T00:00:00.000Z')?.durationMs.max).toBe(
      9_000_000,
    )
    await expectInteractionsMatch(a, 'acme', from, to, null, 'robotId')
    expect((await answers())[0]?.epoch).toBe(await epoch())
    // Every answer stands for a day the rollups hold.
    const orphans = await t.ownerQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM robot_brain.interaction_closed_days c
       WHERE tenant_id = 'acme' AND EXISTS (SELECT 1 FROM robot_brain.interaction_day_rollups d
         WHERE d.tenant_id = 'acme' AND d.dim = c.dim AND d.key = c.key AND d.day = c.day) IS NOT TRUE`,
    )
    expect(orphans[0]?.n).toBe(0)
  })

  it('keeps the closed-day answers of the days before a late event, and computes only the rest', async () => {
    const s = t.store.tenant('kept')
    const app = t.store.transport.app
    const day = (d: number, hour = 10) =>
      `2026-01-${String(d).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00Z`
    // Days 5 to 16 of January, two robots (r1 wave, r2 speak) a day: 24 answers by robot, 24 by type.
    const events: InteractionInput[] = []
    for (let d = 5; d <= 16; d++) events.push(at(day(d), 'r1', 100 + d), at(day(d, 14), 'r2', 900 + d))
    await s.recordInteractions(events)
    const from = '2026-01-01T00:00:00Z'
    const to = '2026-02-01T00:00:00Z'
    const expectAll = async () => {
      for (const groupBy of ['robotId', 'interactionType'] as const) {
        await expectInteractionsMatch(s, 'kept', from, to, 'day', groupBy)
        await expectInteractionsMatch(s, 'kept', from, to, null, groupBy)
      }
    }
    const current = async () =>
      (
        await t.ownerQuery<{ epoch: number; stale: number }>(
          `SELECT e.epoch::int,
                  (SELECT count(*)::int FROM robot_brain.interaction_day_rollups d
                    WHERE d.tenant_id = 'kept' AND d.day_answer_epoch IS DISTINCT FROM e.epoch) AS stale
           FROM (SELECT coalesce((SELECT epoch FROM robot_brain.analytics_epochs WHERE tenant_id = 'kept'), 0) AS epoch) e`,
        )
      )[0]
    expect(await fillClosedDays(app, 'kept', 'r')).toBe(24)
    expect(await fillClosedDays(app, 'kept', 't')).toBe(24)
    await expectAll()
    // A late event on the 12th: the answers of the 5th to the 11th stay, the 12th to the 16th are
    // computed again (5 days, two keys), by robot and by type.
    await s.recordInteractions([at(day(12, 20), 'r1', 50_000)])
    expect(await fillClosedDays(app, 'kept', 'r')).toBe(10)
    expect(await fillClosedDays(app, 'kept', 't')).toBe(10)
    expect(await current()).toMatchObject({ stale: 0 })
    await expectAll()
    // Two late events before the next fill: the earlier day (the 8th) decides.
    await s.recordInteractions([at(day(14, 3), 'r2', 7)])
    await s.recordInteractions([at(day(8, 3), 'r2', 70_000)])
    expect(await fillClosedDays(app, 'kept', 'r')).toBe(18)
    expect(await fillClosedDays(app, 'kept', 't')).toBe(18)
    await expectAll()
    // A raise that records nothing (as an earlier version's writes): every day is computed again.
    await t.ownerQuery(`UPDATE robot_brain.analytics_epochs SET epoch = epoch + 1 WHERE tenant_id = 'kept'`)
    expect(await fillClosedDays(app, 'kept', 'r')).toBe(24)
    expect(await fillClosedDays(app, 'kept', 't')).toBe(24)
    expect(await current()).toMatchObject({ stale: 0 })
    // Counting starts anew from there: the next late event keeps the days before it again.
    await s.recordInteractions([at(day(15, 1), 'r1', 3)])
    expect(await fillClosedDays(app, 'kept', 'r')).toBe(4)
    await expectAll()
  })

  it('fills closed-day answers a page at a time to the same rows as at once', async () => {
    const answers = () =>
      t.ownerQuery<Record<string, unknown>>(
        `SELECT key, day, epoch, p50, p95, p99, run_events, run_sketch::text AS run FROM robot_brain.interaction_closed_days
         WHERE tenant_id = 'acme' AND dim = 't' ORDER BY key, day`,
      )
    const clear = () =>
      t.ownerQuery(`DELETE FROM robot_brain.interaction_closed_days WHERE tenant_id = 'acme'`)
    const pool = t.store.transport.app
    await clear()
    const atOnce = await fillClosedDays(pool, 'acme', 't')
    const whole = await answers()
    expect(whole.length).toBe(atOnce)
    expect(atOnce).toBeGreaterThan(50)
    await clear()
    // Pages of 7 daily rows cut each type's days in the middle: every page goes on from the last answer.
    expect(await fillClosedDays(pool, 'acme', 't', 7)).toBe(atOnce)
    expect(await answers()).toEqual(whole)
    // Nothing left to do: a second fill stores nothing.
    expect(await fillClosedDays(pool, 'acme', 't', 7)).toBe(0)
    // Each running sketch is stored twice, packed as robot_brain.sketch_pack packs its int8[] form.
    const differ = await t.ownerQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM robot_brain.interaction_closed_days
       WHERE tenant_id = 'acme' AND run_packed IS DISTINCT FROM robot_brain.sketch_pack(run_sketch)`,
    )
    expect(differ[0]?.n).toBe(0)
    // Rows stored before migration 0022 (nothing packed) are read in their int8[] form, and kept.
    const range = ['2026-02-03T00:00:00Z', '2026-03-01T00:00:00Z'] as const
    await t.ownerQuery(
      `UPDATE robot_brain.interaction_closed_days SET run_packed = NULL WHERE tenant_id = 'acme'`,
    )
    await expectInteractionsMatch(a, 'acme', ...range, 'day', 'interactionType')
    await expectInteractionsMatch(a, 'acme', ...range, null, 'interactionType')
    const unpacked = await t.ownerQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM robot_brain.interaction_closed_days WHERE tenant_id = 'acme' AND run_packed IS NULL`,
    )
    expect(unpacked[0]?.n).toBe(atOnce)
    // Each answer is on its daily row too, under the same epoch: the query reads it there.
    const dayAnswers = () =>
      t.ownerQuery<{ answered: number; differ: number }>(
        `SELECT count(d.day_answer)::int AS answered,
                count(*) FILTER (WHERE d.day_answer IS DISTINCT FROM ARRAY[c.p50, c.p95, c.p99]
                                    OR d.day_answer_epoch IS DISTINCT FROM c.epoch)::int AS differ
         FROM robot_brain.interaction_closed_days c
         JOIN robot_brain.interaction_day_rollups d USING (tenant_id, dim, key, day)
         WHERE c.tenant_id = 'acme' AND c.dim = 't'`,
      )
    expect(await dayAnswers()).toEqual([{ answered: atOnce, differ: 0 }])
    // Daily rows without answers (as before migration 0022) are answered from interaction_closed_days.
    await t.ownerQuery(
      `UPDATE robot_brain.interaction_day_rollups SET day_answer = NULL, day_answer_epoch = NULL
       WHERE tenant_id = 'acme' AND dim = 't'`,
    )
    await expectInteractionsMatch(a, 'acme', ...range, 'day', 'interactionType')
    await clear()
    expect(await fillClosedDays(pool, 'acme', 't')).toBe(atOnce)
    expect(await dayAnswers()).toEqual([{ answered: atOnce, differ: 0 }])
    // Read from the daily rows, not probed: with the other copy made wrong, the answers stay right.
    await t.ownerQuery(
      `UPDATE robot_brain.interaction_closed_days SET p50 = 0, p95 = 0, p99 = 0 WHERE tenant_id = 'acme' AND dim = 't'`,
    )
    await expectInteractionsMatch(a, 'acme', ...range, 'day', 'interactionType')
    await clear()
  })

  it('rejects bad input with an error naming the field', async () => {
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => a.analytics.personalities({ from: '2026-02-02T00:00:00Z', to: '2026-02-01T00:00:00Z' }), 'from'],
      [() => a.analytics.interactions({ from: '2020-01-01T00:00:00Z', to: '2025-01-03T00:00:00Z' }), 'to'],
      [() => a.analytics.interactions({ groupBy: 'robot' as never }), 'groupBy'],
      [() => a.analytics.personalities({ bucket: 'year' as never }), 'bucket'],
      [() => a.analytics.personalities({ from: 'yesterday' }), 'from'],
      [() => a.analytics.interactions({ to: '2026-13-01T00:00:00Z' }), 'to'],
      [() => a.analytics.interactions({ failures: 101 }), 'failures'],
      [
        () =>
          a.analytics.personalities({
            from: '2020-01-01T00:00:00Z',
            to: '2025-01-01T00:00:00Z',
            bucket: 'hour',
          }),
        'bucket',
      ],
    ]
    for (const [call, field] of cases) {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      )
      expect(err, field).toBeInstanceOf(ValidationError)
      expect((err as ValidationError).field).toBe(field)
    }
  })
})
