// Migration 0005 online: turns stored before it get their search_vector from a batched backfill and
// each partition its GIN index (CONCURRENTLY on a server), while writers keep writing; an interrupted
// run resumes from its recorded progress. Migration 0017 online: vectors of two configurations
// (0005's) are rebuilt with its one, in batches; encrypted turns (no vector) stay without one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runOnlineSteps } from '../../src/db/online-steps.js'
import type { Store } from '../../src/store/store.js'
import { TestEmbedder } from '../support/embedder.js'
import { backend, openTestStore, serverBackend, type TestStore, turnInput } from '../support/store.js'

describe(`online migration steps (${backend})`, () => {
  let t: TestStore
  let store: Store

  beforeAll(async () => {
    t = await openTestStore('online-steps', { options: { embedder: new TestEmbedder() } })
    store = t.store
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('backfills old turns in resumable batches and indexes every partition while writes go on', async () => {
    const s = store.tenant('old')
    const months = ['2026-01-15T10:00:00Z', '2026-02-15T10:00:00Z', '2026-03-15T10:00:00Z']
    for (const m of months)
      await t.ownerQuery("SELECT robot_brain.ensure_month_partition('conversations', $1::date)", [m])
    for (let i = 0; i < 30; i++) {
      await s.recordTurn(
        turnInput(`old-${i % 3}`, i, {
          userMessage: `archived question ${i} about a lighthouse`,
          createdAt: new Date(Date.parse(months[i % 3] as string) + i * 1000).toISOString(),
        }),
      )
    }
    // As a database before 0005 looks: no vectors, no search index, no step done.
    await t.ownerQuery('UPDATE robot_brain.conversations SET search_vector = NULL')
    await t.ownerQuery('DROP INDEX IF EXISTS robot_brain.conversations_search_idx')
    await t.ownerQuery('DELETE FROM robot_brain.schema_online_steps')
    expect((await s.search({ query: 'lighthouse', mode: 'fulltext', limit: 100 })).results).toHaveLength(0)

    // Interrupted after 3 batches of 4: progress is recorded, the rest waits.
    const opts = { concurrently: serverBackend, batchSize: 4 }
    expect(await runOnlineSteps(store.transport.owner, { ...opts, maxBatches: 3 })).toBe(false)
    const [step] = await t.ownerQuery<{ filled: number; done: boolean }>(
      `SELECT (progress ->> 'filled')::int AS filled, done_at IS NOT NULL AS done
       FROM robot_brain.schema_online_steps WHERE step = 'backfill_search_vector'`,
    )
    expect(step).toEqual({ filled: 12, done: false })
    const status = await import('../../src/db/online-steps.js').then((m) =>
      m.pendingOnlineSteps(store.transport.owner),
    )
    expect(status.filter((x) => x.startsWith('0005:'))).toEqual([
      '0005:backfill_search_vector',
      '0005:search_vector_index',
    ])

    // Resumed while writers write: no write fails.
    let writing = true
    let written = 0
    const writer = (async () => {
      while (writing) {
        await s.recordTurn(turnInput('live', written, { userMessage: `live lighthouse ${written}` }))
        written++
      }
    })()
    try {
      expect(await runOnlineSteps(store.transport.owner, opts)).toBe(true)
    } finally {
      writing = false
      await writer
    }
    expect(written).toBeGreaterThan(0)
    const found = await s.search({ query: 'lighthouse', mode: 'fulltext', limit: 100 })
    expect(found.results).toHaveLength(Math.min(100, 30 + written))
    const [left] = await t.ownerQuery<{ n: number }>(
      'SELECT count(*)::int AS n FROM robot_brain.conversations WHERE search_vector IS NULL',
    )
    expect(left?.n).toBe(0)
    // The parent index is valid (every partition's attached), and each partition has one.
    const [parent] = await t.ownerQuery<{ valid: boolean }>(
      `SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = 'robot_brain.conversations_search_idx'::regclass`,
    )
    expect(parent?.valid).toBe(true)
    const [missing] = await t.ownerQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_inherits i
       WHERE i.inhparent = 'robot_brain.conversations'::regclass
         AND NOT EXISTS (SELECT FROM pg_inherits j JOIN pg_index x ON x.indexrelid = j.inhrelid
                         WHERE j.inhparent = 'robot_brain.conversations_search_idx'::regclass
                           AND x.indrelid = i.inhrelid AND x.indisvalid)`,
    )
    expect(missing?.n).toBe(0)
    // Done steps are not run again; a partition made later gets the index with it.
    expect(await runOnlineSteps(store.transport.owner, opts)).toBe(true)
    await t.ownerQuery("SELECT robot_brain.ensure_month_partition('conversations', '2027-06-01'::date)")
    const [later] = await t.ownerQuery<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_indexes WHERE schemaname = 'robot_brain'
       AND tablename = 'conversations_p2027_06' AND indexdef LIKE '%gin (search_vector)%'`,
    )
    expect(later?.n).toBe(1)
  })

  it('0017 rebuilds vectors made by 0005 with one configuration, and search works before and after', async () => {
    const s = store.tenant('old-0017')
    for (let i = 0; i < 9; i++)
      await s.recordTurn(
        // Timed before the migration was applied, as turns with 0005's vectors are (the step skips later ones).
        turnInput(`v-${i % 3}`, i, {
          userMessage: `The lighthouse keeper was running ${i}`,
          robotResponse: 'Is it?',
          createdAt: new Date(Date.parse('2026-01-20T10:00:00Z') + i * 1000).toISOString(),
        }),
      )
    // As 0005 made them: 'english' and 'simple' vectors of both texts.
    const old = `setweight(to_tsvector('english', user_message), 'A') || setweight(to_tsvector('english', coalesce(robot_response, '')), 'B')
      || setweight(to_tsvector('simple', user_message), 'A') || setweight(to_tsvector('simple', coalesce(robot_response, '')), 'B')`
    await t.ownerQuery(
      `UPDATE robot_brain.conversations SET search_vector = ${old} WHERE tenant_id = 'old-0017'`,
    )
    await t.ownerQuery('DELETE FROM robot_brain.schema_online_steps WHERE version = 17')
    const stale = `SELECT count(*)::int AS n FROM robot_brain.conversations WHERE tenant_id = 'old-0017'
      AND search_vector IS DISTINCT FROM robot_brain.turn_search_vector(user_message, robot_response)`
    expect((await t.ownerQuery<{ n: number }>(stale))[0]?.n).toBe(9)
    // The new queries find the old vectors: stems, stop words, exclusions.
    const find = async (query: string) =>
      (await s.search({ query, mode: 'fulltext', limit: 100 })).results.length
    const before = [await find('runs'), await find('the'), await find('lighthouse -running')]
    expect(before).toEqual([9, 9, 0])
    expect(await runOnlineSteps(store.transport.owner, { concurrently: serverBackend, batchSize: 4 })).toBe(
      true,
    )
    expect((await t.ownerQuery<{ n: number }>(stale))[0]?.n).toBe(0)
    expect([await find('runs'), await find('the'), await find('lighthouse -running')]).toEqual(before)
    // One configuration: "running" is kept as its stem only, no longer also as written.
    const [v] = await t.ownerQuery<{ v: string }>(
      "SELECT search_vector::text AS v FROM robot_brain.conversations WHERE tenant_id = 'old-0017' LIMIT 1",
    )
    expect(v?.v).toContain("'run':")
    expect(v?.v).not.toContain("'running':")
    expect(v?.v).toContain("'the':")
  })
})
