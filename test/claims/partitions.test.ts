// README claims about partitions and upkeep, proven on every backend:
//   - rows written before their month had a partition land in the default partition, and
//     ensure_month_partition moves them into the new month's partition; row-level security, the
//     session counters, the analytics rollups and the embedding queue still hold for the moved rows;
//   - `maintain partitions|stats|analyze` each work, and running them twice is safe;
//   - after an ANALYZE, empty partitions are unanalyzed again, so a generic plan reads a month that
//     starts later by its indexes, and a partition being written is never truncated.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withRetry } from '../../src/db/retry.js'
import { runTasks } from '../../src/maintenance/tasks.js'
import { newId } from '../../src/store/ids.js'
import { forgetEmptyPartitionStats } from '../../src/upkeep/partitions.js'
import { backend, openTestStore, type TestStore, turnInput } from '../support/store.js'

/** A month far enough ahead that no migration or maintenance run has made its partition. */
const YEAR = new Date().getUTCFullYear() + 7
const MONTH = `${YEAR}-07-01`
const PARTITION = `conversations_p${YEAR}_07`
const EVENTS_PARTITION = `robot_interactions_p${YEAR}_07`
const at = (day: number) => new Date(Date.UTC(YEAR, 6, day, 12)).toISOString()

describe(`partitions and upkeep (${backend})`, () => {
  let t: TestStore

  beforeAll(async () => {
    t = await openTestStore('claims partitions')
  })
  afterAll(async () => {
    await t?.cleanup()
  })

  const countIn = async (table: string, tenant: string) =>
    (
      await t.ownerQuery<{ n: number }>(
        `SELECT count(*)::int AS n FROM robot_brain.${table} WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3`,
        [tenant, MONTH, `${YEAR}-08-01`],
      )
    )[0]?.n

  it('moves rows out of the default partition into the new month, and tenants stay apart', async () => {
    const [exists] = await t.ownerQuery<{ p: string | null }>(`SELECT to_regclass($1)::text AS p`, [
      `robot_brain.${PARTITION}`,
    ])
    expect(exists?.p, `${PARTITION} must not exist before the test`).toBeNull()

    const acme = t.store.tenant('acme')
    const globex = t.store.tenant('globex')
    for (let i = 0; i < 5; i++) {
      await acme.recordTurn(turnInput('future', i, { id: newId(), createdAt: at(i + 1) }))
    }
    await globex.recordTurn(turnInput('future', 99, { id: newId(), createdAt: at(9) }))
    await acme.recordInteractions([
      { robotId: 'r1', interactionType: 'wave', durationMs: 5, success: true, createdAt: at(3) },
    ])
    expect(await countIn('conversations_default', 'acme')).toBe(5)
    expect(await countIn('robot_interactions_default', 'acme')).toBe(1)
    const rollupsBefore = await t.ownerQuery(
      `SELECT tenant_id, sum(turns)::int AS turns, sum(user_chars)::int AS chars
       FROM robot_brain.personality_rollups GROUP BY 1 ORDER BY 1`,
    )
    const queueBefore = await t.ownerQuery<{ n: number }>(
      'SELECT count(*)::int AS n FROM robot_brain.embedding_queue',
    )

    const moved = await t.ownerQuery<{ c: boolean; i: boolean }>(
      `SELECT robot_brain.ensure_month_partition('conversations', $1::date) AS c,
              robot_brain.ensure_month_partition('robot_interactions', $1::date) AS i`,
      [MONTH],
    )
    expect(moved[0]).toEqual({ c: true, i: true })
    expect(await countIn('conversations_default', 'acme')).toBe(0)
    expect(await countIn('conversations_default', 'globex')).toBe(0)
    expect(await countIn(PARTITION, 'acme')).toBe(5)
    expect(await countIn(PARTITION, 'globex')).toBe(1)
    expect(await countIn('robot_interactions_default', 'acme')).toBe(0)
    expect(await countIn(EVENTS_PARTITION, 'acme')).toBe(1)

    // Through the store (the runtime role, row-level security): each tenant sees its own rows only.
    const acmeTurns = (await acme.history('future', { limit: 50 })).turns
    expect(acmeTurns.map((x) => x.userMessage).sort()).toEqual(
      [0, 1, 2, 3, 4].map((i) => turnInput('future', i).userMessage),
    )
    expect((await globex.history('future', { limit: 50 })).turns.map((x) => x.userMessage)).toEqual([
      turnInput('future', 99).userMessage,
    ])
    expect(
      (
        await t.store
          .tenant('initech')
          .history('future', { limit: 50 })
          .catch(() => null)
      )?.turns ?? [],
    ).toEqual([])
    // The move is no write in the application's sense: counters, rollups and queue are unchanged.
    expect((await acme.getSession('future')).messageCount).toBe(5)
    expect((await globex.getSession('future')).messageCount).toBe(1)
    expect(
      await t.ownerQuery(
        `SELECT tenant_id, sum(turns)::int AS turns, sum(user_chars)::int AS chars
         FROM robot_brain.personality_rollups GROUP BY 1 ORDER BY 1`,
      ),
    ).toEqual(rollupsBefore)
    expect(await t.ownerQuery('SELECT count(*)::int AS n FROM robot_brain.embedding_queue')).toEqual(
      queueBefore,
    )
    // New writes for that month go to the new partition, still under row-level security.
    await acme.recordTurn(turnInput('future', 5, { id: newId(), createdAt: at(20) }))
    expect(await countIn(PARTITION, 'acme')).toBe(6)
    expect((await globex.history('future', { limit: 50 })).turns).toHaveLength(1)

    // Asked again, it has nothing to do.
    const again = await t.ownerQuery<{ c: boolean }>(
      `SELECT robot_brain.ensure_month_partition('conversations', $1::date) AS c`,
      [MONTH],
    )
    expect(again[0]?.c).toBe(false)
  })

  it('the app role cannot reach a moved partition around the policies', async () => {
    // The partition is reached only through its parent, whose policies apply: read directly as the
    // runtime role it is refused (no privilege) or empty, never another tenant's rows.
    const client = await t.store.transport.app.connect()
    try {
      const direct = await client
        .query<{ n: number }>(`SELECT count(*)::int AS n FROM robot_brain.${PARTITION}`)
        .then(
          (r) => r.rows[0]?.n,
          (err: { code?: string }) => err.code,
        )
      expect(direct === 0 || direct === '42501', `direct read as the app role gave ${String(direct)}`).toBe(
        true,
      )
    } finally {
      client.release()
    }
  })

  it('an ANALYZE leaves empty partitions unanalyzed: a generic plan probes a month by index when it starts', async () => {
    const owner = t.store.transport.owner
    const ahead = `robot_interactions_p${YEAR}_09`
    await t.ownerQuery(`SELECT robot_brain.ensure_month_partition('robot_interactions', $1::date)`, [
      `${YEAR}-09-01`,
    ])
    const stats = async (name: string) =>
      (
        await t.ownerQuery<{ reltuples: number }>(
          `SELECT reltuples::float8 AS reltuples FROM pg_class
           WHERE relnamespace = 'robot_brain'::regnamespace AND relname = $1`,
          [name],
        )
      )[0]?.reltuples
    // The replay probe of an event batch, planned generically as the application pool plans it.
    const probePlan = async () => {
      const c = await owner.connect()
      try {
        await c.query('BEGIN')
        await c.query('SET LOCAL plan_cache_mode = force_generic_plan')
        await c.query(`PREPARE rb_test_probe(text, uuid) AS
          SELECT true FROM robot_brain.robot_interactions x WHERE x.tenant_id = $1 AND x.id = $2 LIMIT 1`)
        const { rows } = await c.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN EXECUTE rb_test_probe('acme', '${newId()}')`,
        )
        await c.query('DEALLOCATE rb_test_probe')
        await c.query('COMMIT')
        return rows.map((r) => r['QUERY PLAN']).join('\n')
      } finally {
        c.release()
      }
    }

    await t.ownerQuery('ANALYZE robot_brain.robot_interactions')
    expect(await stats(ahead), 'ANALYZE records the empty month as empty').toBe(0)
    expect(await probePlan()).toContain(`Seq Scan on ${ahead}`)

    const reset = await forgetEmptyPartitionStats(owner)
    expect(reset).toContain(ahead)
    expect(reset, 'a partition holding rows keeps its statistics').not.toContain(EVENTS_PARTITION)
    expect(await stats(ahead), 'never analyzed').toBe(-1)
    const plan = await probePlan()
    expect(plan).not.toContain(`Seq Scan on ${ahead}`)
    expect(plan).toContain(`${ahead}_pkey`)
    expect(await countIn(EVENTS_PARTITION, 'acme'), 'rows elsewhere stay').toBe(1)

    // The analyze task does both.
    await t.ownerQuery('ANALYZE robot_brain.robot_interactions')
    const runTask = async (name: 'analyze' | 'partitions') =>
      (
        await runTasks(
          {
            owner,
            now: new Date(),
            retention: { conversationsMonths: null, interactionsMonths: null, archiveDir: null },
            retry: (fn) => fn(),
          },
          [name],
        )
      )[0]
    const analyzed = await runTask('analyze')
    expect(analyzed?.detail).toContain(ahead)
    expect(await stats(ahead)).toBe(-1)
    // So does the partitions task (every upkeep run), after an ANALYZE by anyone else.
    await t.ownerQuery('ANALYZE robot_brain.robot_interactions')
    expect(await stats(ahead)).toBe(0)
    const made = await runTask('partitions')
    expect(made?.ok).toBe(true)
    expect(await stats(ahead)).toBe(-1)

    // A partition written to right now (an insert not yet committed) is left alone, and keeps its row.
    if (backend === 'pglite') return // one connection: no second transaction to hold open
    await t.ownerQuery('ANALYZE robot_brain.robot_interactions')
    const writer = await owner.connect()
    try {
      await writer.query('BEGIN')
      await writer.query({
        text: `INSERT INTO robot_brain.robot_interactions
                 (tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
               VALUES ('held', $1, 'r1', 'wave', 5, true, '{}', $2)`,
        values: [newId(), `${YEAR}-09-03T12:00:00Z`],
      })
      expect(await forgetEmptyPartitionStats(owner)).not.toContain(ahead)
      await writer.query('COMMIT')
    } finally {
      writer.release()
    }
    const held = async () =>
      (await t.ownerQuery<{ n: number }>(`SELECT count(*)::int AS n FROM robot_brain.${ahead}`))[0]?.n
    expect(await held()).toBe(1)
    expect(await forgetEmptyPartitionStats(owner), 'no longer empty').not.toContain(ahead)
    expect(await held()).toBe(1)
  })

  // A partition analyzed while it held a few rows of another tenant, as in the first minutes of a
  // month: the replay check of every later batch reads it once per batch, by an index (before
  // migration 0023 the plan kept was a sequential scan per event). Counted by the server's
  // statistics, which PGlite lacks.
  it.skipIf(backend === 'pglite')(
    'the replay check reads a partition analyzed small once per batch, by an index',
    async () => {
      const small = `robot_interactions_p${YEAR}_10`
      await t.ownerQuery(`SELECT robot_brain.ensure_month_partition('robot_interactions', $1::date)`, [
        `${YEAR}-10-01`,
      ])
      const acme = t.store.tenant('acme')
      const events = (n: number) =>
        Array.from({ length: n }, (_, i) => ({
          robotId: 'r1',
          interactionType: 'wave',
          durationMs: i,
          success: true,
          createdAt: new Date(Date.UTC(YEAR, 9, 1 + (i % 28), 12)).toISOString(),
        }))
      // Its first rows, written by the owner.
      await t.ownerQuery(
        `INSERT INTO robot_brain.${small}
         (tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
       SELECT 'early', gen_random_uuid(), 'r1', 'wave', d, true, '{}', make_timestamptz($1, 10, d, 12, 0, 0, 'UTC')
       FROM generate_series(1, 3) d`,
        [YEAR],
      )
      await t.ownerQuery(`ANALYZE robot_brain.${small}`)
      const counters = async () => {
        const [r] = await t.ownerQuery<{ ins: number; seq: number; idx: number; fetched: number }>(
          `SELECT n_tup_ins::int AS ins, seq_scan::int AS seq, coalesce(idx_scan, 0)::int AS idx,
                  coalesce(idx_tup_fetch, 0)::int AS fetched
         FROM pg_stat_user_tables WHERE schemaname = 'robot_brain' AND relname = $1`,
          [small],
        )
        return r as { ins: number; seq: number; idx: number; fetched: number }
      }
      // A session reports its counters when idle, up to 10 s later: wait for the batches to show.
      const settled = async (inserted: number) => {
        let now = await counters()
        for (let i = 0; i < 150 && now.ins < inserted; i++) {
          await new Promise((r) => setTimeout(r, 100))
          now = await counters()
        }
        expect(now.ins, 'the server reported the inserts').toBeGreaterThanOrEqual(inserted)
        return now
      }
      const before = await settled(3) // (making the partition counts scans of its own)
      for (let b = 0; b < 8; b++) expect((await acme.recordInteractions(events(50))).inserted).toBe(50)
      const after = await settled(3 + 8 * 50)
      expect(after.seq - before.seq, 'no sequential scan of the small partition').toBe(0)
      // At most one read of the partition's rows per batch, whatever index its statistics lead to:
      // not one per event (8 batches over at most 403 rows).
      expect(after.idx, 'the replay checks used an index').toBeGreaterThan(before.idx)
      expect(after.fetched - before.fetched, 'rows read by index scans').toBeLessThanOrEqual(8 * 403)
    },
  )

  /** What `robot-brain-db maintain <tasks>` runs, with a clock reading of now. */
  const maintain = (force: boolean) =>
    runTasks(
      {
        owner: t.store.transport.owner,
        now: new Date(),
        retention: { conversationsMonths: null, interactionsMonths: null, archiveDir: null },
        force,
        retry: (fn) => withRetry(fn, t.store.config.retry),
      },
      ['partitions', 'stats', 'analyze'],
    )

  it('maintain partitions, stats and analyze each work, and are safe to run twice', async () => {
    const first = await maintain(true)
    expect(first.map((r) => [r.task, r.ok, r.ok ? '' : r.detail])).toEqual([
      ['partitions', true, ''],
      ['stats', true, ''],
      ['analyze', true, ''],
    ])
    const partitions = () =>
      t.ownerQuery<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'robot_brain.conversations'::regclass ORDER BY 1`,
      )
    const after = await partitions()
    // This month and the next three exist (and the default, and the test's month).
    for (let i = 0; i <= 3; i++) {
      const d = new Date()
      d.setUTCDate(1)
      d.setUTCMonth(d.getUTCMonth() + i)
      const name = `conversations_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`
      expect(after.map((p) => p.name)).toContain(name)
    }
    // Stats were refreshed: the view holds the sessions written above.
    const stats = await t.store.tenant('acme').sessionStats({ sessionId: 'future' })
    expect(stats[0]).toMatchObject({ sessionId: 'future' })

    const second = await maintain(true)
    expect(second.map((r) => [r.task, r.ok, r.ok ? '' : r.detail])).toEqual([
      ['partitions', true, ''],
      ['stats', true, ''],
      ['analyze', true, ''],
    ])
    // Without --force, a refresh with nothing new is skipped, and that is fine too.
    const third = await maintain(false)
    expect(third.map((r) => r.ok)).toEqual([true, true, true])
    expect(await partitions()).toEqual(after)
    // Nothing moved or lost on the way.
    expect(await countIn(PARTITION, 'acme')).toBe(6)
    expect((await t.store.tenant('acme').getSession('future')).messageCount).toBe(6)
  })
})
