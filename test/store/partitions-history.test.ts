// History across many monthly partitions (migration 0009): every turn once, in order, with cursors
// both ways; the session's span of turn times holds every turn whatever path wrote it; and a read
// touches only the partitions inside that span.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runOnlineSteps } from '../../src/db/online-steps.js'
import type { Queryable } from '../../src/db/pool.js'
import type { Store } from '../../src/store/store.js'
import { toTurn, turnsById } from '../../src/store/turns.js'
import type { Turn } from '../../src/store/types.js'
import { backend, openTestStore, serverBackend, type TestStore, turnInput } from '../support/store.js'

/** The first day of each month from January 2023 on: 42 months, each in a partition of its own. */
const MONTHS = Array.from({ length: 42 }, (_, i) => new Date(Date.UTC(2023, i, 1)).toISOString())

async function readAll(
  store: Store,
  sessionId: string,
  order: 'asc' | 'desc',
  limit: number,
): Promise<Turn[]> {
  const turns: Turn[] = []
  let cursor: string | null = null
  for (let pages = 0; pages < 100; pages++) {
    const page = await store.history(sessionId, {
      limit,
      order,
      ...(cursor ? (order === 'asc' ? { after: cursor } : { before: cursor }) : {}),
    })
    turns.push(...page.turns)
    cursor = page.nextCursor
    if (!cursor) return turns
  }
  throw new Error('history never ended')
}

const key = (x: Turn) => `${x.createdAt}|${x.id}`

/** This transaction's scans of each partition and its indexes (one transaction: not flushed between). */
const PARTITION_SCANS = `SELECT coalesce(jsonb_object_agg(c.relname, pg_stat_get_xact_numscans(c.oid)
  + (SELECT coalesce(sum(pg_stat_get_xact_numscans(x.indexrelid)), 0) FROM pg_index x
     WHERE x.indrelid = c.oid)), '{}') AS scans
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'robot_brain.conversations'::regclass`

/** Partition names of the months from `from` to `to` (YYYY-MM), inclusive. */
function partitions(from: string, to: string): string[] {
  const names: string[] = []
  for (
    let d = new Date(`${from}-01T00:00:00Z`);
    d <= new Date(`${to}-01T00:00:00Z`);
    d.setUTCMonth(d.getUTCMonth() + 1)
  )
    names.push(`conversations_p${d.toISOString().slice(0, 7).replace('-', '_')}`)
  return names
}

describe(`history across many partitions (${backend})`, () => {
  let t: TestStore
  let store: Store
  const written: Turn[] = []

  beforeAll(async () => {
    t = await openTestStore('partitions-history')
    store = t.store
    for (const m of MONTHS)
      await t.ownerQuery("SELECT robot_brain.ensure_month_partition('conversations', $1::date)", [m])
    // Two turns in each month, written out of time order, two with the same createdAt (tie on id).
    const times = MONTHS.flatMap((m) => [m, new Date(Date.parse(m) + 86_400_000 * 20).toISOString()])
    times.push(times[10] as string)
    const shuffled = times.map((x, i) => [x, (i * 37) % times.length] as const).sort((a, b) => a[1] - b[1])
    for (const [i, [createdAt]] of shuffled.entries())
      written.push(await store.recordTurn(turnInput('long', i, { createdAt })))
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  it('pages every turn once, newest first and oldest first, across 42 months', async () => {
    const newest = [...written].sort((a, b) => (key(a) < key(b) ? 1 : -1))
    for (const limit of [1, 7, 20]) {
      expect((await readAll(store, 'long', 'desc', limit)).map(key)).toEqual(newest.map(key))
      expect((await readAll(store, 'long', 'asc', limit)).map(key)).toEqual([...newest].reverse().map(key))
    }
  })

  it('the session span holds its turns, written by the store or by any other path', async () => {
    const span = async () =>
      (
        await t.ownerQuery<{ from: Date; to: Date }>(
          "SELECT turns_from AS from, turns_to AS to FROM robot_brain.sessions WHERE id = 'long'",
        )
      )[0]
    expect(await span()).toEqual({
      from: new Date(MONTHS[0] as string),
      to: new Date('2026-06-21T00:00:00.000Z'),
    })
    // A turn inserted without the write path (an import, a restore), older than the span.
    await t.ownerQuery("SELECT robot_brain.ensure_month_partition('conversations', '2022-12-01'::date)")
    await t.ownerQuery(
      `INSERT INTO robot_brain.conversations (tenant_id, id, session_id, robot_personality, user_message, robot_response, created_at)
       VALUES ('default', gen_random_uuid(), 'long', 'friendly', 'imported', 'imported', '2022-12-24T00:00:00Z')`,
    )
    expect((await span())?.from).toEqual(new Date('2022-12-24T00:00:00Z'))
    const oldest = (await store.history('long', { order: 'asc', limit: 1 })).turns[0]
    expect(oldest?.userMessage).toBe('imported')
  })

  it('a session whose span is unknown (older than 0009) still reads every turn', async () => {
    await t.ownerQuery("UPDATE robot_brain.sessions SET turns_from = NULL, turns_to = NULL WHERE id = 'long'")
    const all = await readAll(store, 'long', 'desc', 13)
    expect(all).toHaveLength(written.length + 1)
    // The write path keeps an unknown span unknown: older turns may lie anywhere.
    await store.recordTurn(turnInput('long', 999, { createdAt: MONTHS[41] }))
    const [row] = await t.ownerQuery<{ from: Date | null }>(
      "SELECT turns_from AS from FROM robot_brain.sessions WHERE id = 'long'",
    )
    expect(row?.from).toBeNull()
    expect(await readAll(store, 'long', 'asc', 50)).toHaveLength(written.length + 2)
  })

  it('reads only the partitions inside the span and before the cursor', async () => {
    const a = await store.recordTurn(turnInput('one-month', 1, { createdAt: '2024-05-03T00:00:00.000Z' }))
    await store.recordTurn(turnInput('one-month', 2, { createdAt: '2024-05-09T00:00:00.000Z' }))
    await store.recordTurn(turnInput('two-months', 1, { createdAt: '2024-05-03T00:00:00.000Z' }))
    const b = await store.recordTurn(turnInput('two-months', 2, { createdAt: '2025-01-09T00:00:00.000Z' }))
    // The partitions the read scanned: this transaction's scans of each partition and its indexes,
    // before and after the read (one transaction: the counts are not flushed in between).
    const SCANS = PARTITION_SCANS
    const touched = async (session: string, before: Turn | null) => {
      const us = before ? String(Date.parse(before.createdAt) * 1000) : '9000000000000000000'
      await t.ownerQuery('BEGIN')
      try {
        const [was] = await t.ownerQuery<{ scans: Record<string, number> }>(SCANS)
        const [page] = await t.ownerQuery<{ n: number }>(
          `SELECT count(*)::int AS n
           FROM robot_brain.history_page('default', $1, $2::bigint, $3::uuid, 20, 1000000, false)`,
          [session, us, before?.id ?? 'ffffffff-ffff-ffff-ffff-ffffffffffff'],
        )
        const [is] = await t.ownerQuery<{ scans: Record<string, number> }>(SCANS)
        const parts = Object.keys(is?.scans ?? {})
          .filter((name) => Number(is?.scans[name]) > Number(was?.scans[name] ?? 0))
          .sort()
        return { n: page?.n, parts }
      } finally {
        await t.ownerQuery('COMMIT')
      }
    }
    expect(await touched('one-month', null)).toEqual({ n: 2, parts: ['conversations_p2024_05'] })
    expect(await touched('one-month', a)).toEqual({ n: 0, parts: ['conversations_p2024_05'] })
    expect(await touched('two-months', null)).toEqual({ n: 2, parts: partitions('2024-05', '2025-01') })
    // A cursor page reads from the span's start to the cursor only.
    const later = await store.recordTurn(
      turnInput('two-months', 3, { createdAt: '2026-03-09T00:00:00.000Z' }),
    )
    expect(await touched('two-months', b)).toEqual({ n: 1, parts: partitions('2024-05', '2025-01') })
    expect(await touched('two-months', later)).toEqual({ n: 2, parts: partitions('2024-05', '2026-03') })
    expect((await touched('two-months', null))?.parts).toEqual(partitions('2024-05', '2026-03'))
  })

  it('a replay reads its stored turn in the one partition that holds it', async () => {
    const stored = await store.recordTurn(turnInput('replayed', 1, { createdAt: '2024-07-04T00:00:00.000Z' }))
    // The owner's connection, as the store's Queryable: one connection, so BEGIN holds.
    const db = {
      query: async <R>(q: string | { text: string; values?: unknown[] }) =>
        typeof q === 'string'
          ? { rows: await t.ownerQuery<R>(q) }
          : { rows: await t.ownerQuery<R>(q.text, q.values) },
    } as unknown as Queryable
    await t.ownerQuery('BEGIN')
    try {
      const [was] = await t.ownerQuery<{ scans: Record<string, number> }>(PARTITION_SCANS)
      const rows = await turnsById(db, 'default', [stored.id])
      const [is] = await t.ownerQuery<{ scans: Record<string, number> }>(PARTITION_SCANS)
      expect(rows.map(toTurn)).toEqual([stored])
      expect(
        Object.keys(is?.scans ?? {}).filter(
          (name) => Number(is?.scans[name]) > Number(was?.scans[name] ?? 0),
        ),
      ).toEqual(['conversations_p2024_07'])
    } finally {
      await t.ownerQuery('COMMIT')
    }
    // What the store answers for the replay itself, sent with another createdAt.
    expect(
      await store.recordTurnResult(
        turnInput('replayed', 1, { id: stored.id, createdAt: '2025-02-01T00:00:00.000Z' }),
      ),
    ).toEqual({ created: false, turn: stored })
  })

  it('the span backfill sets the span of sessions stored before 0009, in resumable batches', async () => {
    for (let i = 0; i < 7; i++) {
      await store.recordTurn(turnInput(`old-${i}`, 1, { createdAt: MONTHS[i] }))
      await store.recordTurn(turnInput(`old-${i}`, 2, { createdAt: MONTHS[40 - i] }))
    }
    await store.putSession('old-empty', {})
    // As a database just migrated to 0009 looks: no spans, the step not run.
    await t.ownerQuery('UPDATE robot_brain.sessions SET turns_from = NULL, turns_to = NULL')
    await t.ownerQuery('DELETE FROM robot_brain.schema_online_steps WHERE version = 9')
    const opts = { concurrently: serverBackend, batchSize: 8 } // 2 sessions a batch
    expect(await runOnlineSteps(store.transport.owner, { ...opts, maxBatches: 2 })).toBe(false)
    expect(await runOnlineSteps(store.transport.owner, opts)).toBe(true)
    const wrong = await t.ownerQuery<{ id: string }>(
      `SELECT s.id FROM robot_brain.sessions s
       LEFT JOIN LATERAL (SELECT min(c.created_at) AS lo, max(c.created_at) AS hi FROM robot_brain.conversations c
                          WHERE c.tenant_id = s.tenant_id AND c.session_id = s.id) m ON true
       WHERE s.turns_from IS DISTINCT FROM m.lo OR s.turns_to IS DISTINCT FROM m.hi`,
    )
    expect(wrong).toEqual([])
    const [old] = await t.ownerQuery<{ from: Date; to: Date }>(
      "SELECT turns_from AS from, turns_to AS to FROM robot_brain.sessions WHERE id = 'old-3'",
    )
    expect(old).toEqual({ from: new Date(MONTHS[3] as string), to: new Date(MONTHS[37] as string) })
    expect((await readAll(store, 'old-3', 'desc', 1)).map((x) => x.createdAt)).toEqual([
      MONTHS[37],
      MONTHS[3],
    ])
  })
})
