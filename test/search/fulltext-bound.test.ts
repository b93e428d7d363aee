// The full-text arm's bounds (migration 0011, src/search/fulltext.ts): only the newest `candidates`
// matches are ranked, found month by month through the GIN index; the filters that are not narrow
// (personality, time range, metadata) apply before the bound, so they never cut an answer short; a
// search by session reads the partitions inside the session's span of turn times, and still finds
// every turn of a session whose span is unknown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fulltextSearch } from '../../src/search/fulltext.js'
import { DEFAULT_TENANT, type Store } from '../../src/store/store.js'
import { backend, openTestStore, type TestStore } from '../support/store.js'

describe(`full-text candidates and session spans (${backend})`, () => {
  let t: TestStore
  let store: Store
  /** Turns mentioning "zebra", one a month from January to June 2026, oldest first. */
  const months = ['01', '02', '03', '04', '05', '06']

  beforeAll(async () => {
    t = await openTestStore('fulltext-bound')
    store = t.store
    // A partition per month, so the search walks months newest first.
    await t.ownerQuery(
      `SELECT robot_brain.ensure_month_partition('conversations', d::date)
       FROM generate_series(date '2026-01-01', date '2026-06-01', interval '1 month') d`,
    )
    for (const [i, m] of months.entries()) {
      await store.recordTurn({
        sessionId: i < 3 ? 's-old' : 's-new',
        // The oldest turn says "zebra" most often: the best ts_rank, if it is ranked at all.
        userMessage: i === 0 ? 'zebra zebra zebra zebra' : `a zebra in month ${m}`,
        robotResponse: i === 0 ? 'zebra zebra stripes' : 'noted',
        robotPersonality: i === 1 ? 'rare' : 'plain',
        metadata: { month: m },
        createdAt: `2026-${m}-15T12:00:00.000Z`,
      })
    }
  }, 240_000)
  afterAll(async () => {
    await t?.cleanup()
  })

  const search = (filters: Parameters<typeof fulltextSearch>[3], candidates: number, limit = 10) =>
    fulltextSearch(store.transport.app, DEFAULT_TENANT, 'zebra', filters, limit, { candidates })

  const months_ = (rows: Array<{ created_at: Date | string }>) =>
    rows.map((r) => new Date(r.created_at).toISOString().slice(5, 7)).sort()

  it('ranks every match when they are fewer than the bound, best first', async () => {
    const rows = await search({}, 1000)
    expect(months_(rows)).toEqual(months)
    expect(new Date(rows[0]?.created_at ?? 0).toISOString().slice(5, 7)).toBe('01')
    expect(rows[0]?.snippet).toContain('**zebra**')
  })

  // (The bound is never below the limit asked for: here both are small.)
  it('ranks only the newest matches when there are more than the bound', async () => {
    const rows = await search({}, 3, 3)
    expect(months_(rows)).toEqual(['04', '05', '06'])
    // the best-scoring (oldest) turn was not a candidate
    expect(rows.some((r) => r.user_message === 'zebra zebra zebra zebra')).toBe(false)
    // Months are read in windows of 1, 2, 4, ...: the bound falls inside a window of several months.
    expect(months_(await search({}, 4, 4))).toEqual(['03', '04', '05', '06'])
    expect(months_(await search({}, 5, 5))).toEqual(['02', '03', '04', '05', '06'])
  })

  it('applies personality, time and metadata filters before the bound', async () => {
    expect(months_(await search({ robotPersonality: 'rare' }, 3))).toEqual(['02'])
    expect(months_(await search({ metadata: { month: '01' } }, 3))).toEqual(['01'])
    const range = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-03-01T00:00:00Z') }
    expect(months_(await search(range, 3))).toEqual(['01', '02'])
  })

  it('a session: its turns within its span, and all of them when the span is unknown', async () => {
    expect(months_(await search({ sessionId: 's-old' }, 1000))).toEqual(['01', '02', '03'])
    expect(months_(await search({ sessionId: 's-new' }, 2, 2))).toEqual(['05', '06'])
    expect(await search({ sessionId: 'no-such-session' }, 1000)).toEqual([])
    // A session stored before spans were kept: no span, every partition is read.
    await t.ownerQuery(
      "UPDATE robot_brain.sessions SET turns_from = NULL, turns_to = NULL WHERE id = 's-old'",
    )
    expect(months_(await search({ sessionId: 's-old' }, 1000))).toEqual(['01', '02', '03'])
    const r = await store.search({ query: 'zebra', mode: 'fulltext', sessionId: 's-old' })
    expect(r.results).toHaveLength(3)
  })

  it('another tenant finds nothing, even calling the function for a tenant it does not act for', async () => {
    expect(await fulltextSearch(store.transport.app, 'other-tenant', 'zebra', {}, 10)).toEqual([])
    // The function answers only for the tenant the transaction acts for.
    await expect(
      store.transport.app.query({
        text: `SELECT count(*)::int AS n FROM robot_brain.use_tenant('other-tenant') AS ctx(t)
               CROSS JOIN LATERAL robot_brain.fulltext_matches($1, 'zebra', 100, NULL, NULL, NULL, NULL)`,
        values: [DEFAULT_TENANT],
      }),
    ).resolves.toMatchObject({ rows: [{ n: 0 }] })
  })
})
