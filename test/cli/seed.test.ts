// `robot-brain-db seed` through the real CLI: exact counts, exact session counters, partitions for the
// range, determinism by --seed, replays that add nothing, and usage errors that name the flag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FreshDatabase } from '../support/backend.js'
import { freshTestDatabase } from '../support/store.js'
import { backend, cli, dbEnv, ensureBuilt, json, type OwnerSession, ownerSession } from './cli.js'

interface Summary {
  tenant: string
  seed: number
  sessionsCreated: number
  turns: number
  events: number
  partitionsCreated: number
  skipped: { turns: number; events: number }
  rowsPerSecond: number
}

const RANGE = ['--from', '2025-01-20', '--to', '2025-03-05T12:00:00Z']
const SESSIONS = 12
const TURNS = 5
const EVENTS = 40
// A batch smaller than a session splits sessions across statements that run two at a time.
const ARGS = ['--sessions', `${SESSIONS}`, '--turns', `${TURNS}`, '--events', `${EVENTS}`, ...RANGE]

/** One digest per table over every column, in a fixed order: equal digests mean identical data. */
const DIGESTS = [
  `SELECT md5(string_agg(concat_ws('|', tenant_id, id, session_id, robot_personality, user_message, robot_response,
     metadata::text, (extract(epoch FROM created_at) * 1000)::bigint), ',' ORDER BY id)) AS d FROM robot_brain.conversations`,
  `SELECT md5(string_agg(concat_ws('|', tenant_id, id, user_metadata::text, message_count,
     (extract(epoch FROM created_at) * 1000)::bigint, (extract(epoch FROM last_active) * 1000)::bigint), ',' ORDER BY id)) AS d
   FROM robot_brain.sessions`,
  `SELECT md5(string_agg(concat_ws('|', tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata::text,
     (extract(epoch FROM created_at) * 1000)::bigint), ',' ORDER BY id)) AS d FROM robot_brain.robot_interactions`,
]

async function digests(owner: OwnerSession): Promise<string[]> {
  return (await owner.query<{ d: string }>(DIGESTS)).map((rows) => rows[0]?.d as string)
}

describe(`seed command (${backend})`, () => {
  const dbs: FreshDatabase[] = []
  // An empty database (PGlite: a copy of an initialized, unmigrated directory: seed still migrates).
  const fresh = async (label: string) => {
    const db = await freshTestDatabase(label, false)
    dbs.push(db)
    return db
  }
  let a: FreshDatabase
  // The owner's reads of `a` share one open (PGlite: seconds each); released before each CLI run on `a`.
  let owner: OwnerSession
  const cliOnA = async (args: string[]) => {
    await owner.release()
    return cli(args, dbEnv(a))
  }
  let first: Summary

  beforeAll(async () => {
    await ensureBuilt()
    a = await fresh('cli seed a')
    owner = ownerSession(a)
    const r = await cliOnA(['seed', ...ARGS, '--seed', '42', '--batch-size', '3', '--json'])
    expect(r.code, r.stderr).toBe(0)
    first = json<Summary>(r)
  }, 300_000)

  afterAll(async () => {
    await owner?.release()
    for (const db of dbs) await db.drop()
  })

  it('reports exactly N×M turns, N sessions and E events', () => {
    expect(first).toMatchObject({
      tenant: 'default',
      seed: 42,
      sessionsCreated: SESSIONS,
      turns: SESSIONS * TURNS,
      events: EVENTS,
      skipped: { turns: 0, events: 0 },
    })
    // January to March 2025, for both tables (later months may exist from the migration already).
    expect(first.partitionsCreated).toBe(6)
    expect(first.rowsPerSecond).toBeGreaterThan(0)
  })

  it('stores exactly what it reports, with exact session counters, in monthly partitions', async () => {
    const [counts, sessions, outside, defaults, ids, personalities] = await owner.query<
      Record<string, unknown>
    >([
      `SELECT (SELECT count(*)::int FROM robot_brain.conversations) AS turns,
              (SELECT count(*)::int FROM robot_brain.sessions) AS sessions,
              (SELECT count(*)::int FROM robot_brain.robot_interactions) AS events`,
      `SELECT s.id, s.message_count, count(c.id)::int AS stored,
              s.last_active = max(c.created_at) AS last_ok, s.created_at = min(c.created_at) AS first_ok
       FROM robot_brain.sessions s LEFT JOIN robot_brain.conversations c ON c.tenant_id = s.tenant_id AND c.session_id = s.id
       GROUP BY s.tenant_id, s.id`,
      `SELECT (SELECT count(*)::int FROM robot_brain.conversations
                WHERE created_at < '2025-01-20' OR created_at >= '2025-03-05T12:00:00Z') +
              (SELECT count(*)::int FROM robot_brain.robot_interactions
                WHERE created_at < '2025-01-20' OR created_at >= '2025-03-05T12:00:00Z') AS n`,
      `SELECT (SELECT count(*)::int FROM robot_brain.conversations_default) +
              (SELECT count(*)::int FROM robot_brain.robot_interactions_default) AS n`,
      // UUIDv7: version 7, and the embedded millisecond is the row's created_at.
      `SELECT count(*)::int AS bad FROM robot_brain.conversations
       WHERE substr(id::text, 15, 1) <> '7'
          OR ('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
             <> (extract(epoch FROM created_at) * 1000)::bigint`,
      `SELECT array_agg(DISTINCT robot_personality ORDER BY robot_personality) AS p,
              bool_and(tenant_id = 'default') AS tenant_ok FROM robot_brain.conversations`,
    ])
    expect(counts?.[0]).toEqual({ turns: SESSIONS * TURNS, sessions: SESSIONS, events: EVENTS })
    expect(sessions).toHaveLength(SESSIONS)
    for (const s of sessions ?? []) {
      expect(s).toMatchObject({ message_count: TURNS, stored: TURNS, last_ok: true, first_ok: true })
    }
    expect(outside?.[0]).toEqual({ n: 0 })
    expect(defaults?.[0]).toEqual({ n: 0 })
    expect(ids?.[0]).toEqual({ bad: 0 })
    expect(personalities?.[0]?.tenant_ok).toBe(true)
    expect((personalities?.[0]?.p as string[] | undefined)?.length).toBeGreaterThan(1)
  }, 300_000)

  it('writes plausible text: varied lengths, non-ASCII characters, no two sessions alike', async () => {
    const [[t]] = (await owner.query<{
      distinct_replies: number
      min_len: number
      max_len: number
      unicode: number
    }>([
      `SELECT count(DISTINCT robot_response)::int AS distinct_replies,
              min(char_length(user_message))::int AS min_len,
              max(char_length(robot_response))::int AS max_len,
              count(*) FILTER (WHERE user_message || robot_response ~ '[^\\x01-\\x7f]')::int AS unicode
       FROM robot_brain.conversations`,
    ])) as [[{ distinct_replies: number; min_len: number; max_len: number; unicode: number }]]
    expect(t.distinct_replies).toBeGreaterThan(SESSIONS * TURNS * 0.8)
    expect(t.min_len).toBeGreaterThan(0)
    expect(t.max_len).toBeGreaterThan(t.min_len * 3)
    expect(t.unicode).toBeGreaterThan(0)
  }, 300_000)

  it('is deterministic: the same --seed and range give identical rows in another database', async () => {
    // (Another seed giving other rows, and batch-size independence, are covered without a database
    // in seed-generate.test.ts.) This run uses the default batch size, the first used 3.
    const b = await fresh('cli seed b')
    const rb = await cli(['seed', ...ARGS, '--seed', '42', '--json'], dbEnv(b))
    expect(rb.code, rb.stderr).toBe(0)
    const ownerB = ownerSession(b)
    const [da, db] = [await digests(owner), await digests(ownerB).finally(() => ownerB.release())]
    expect(da.every((d) => typeof d === 'string' && d.length === 32)).toBe(true)
    expect(db).toEqual(da)
  }, 300_000)

  it('a replay of the same seed stores nothing new and counts nothing twice', async () => {
    const before = await digests(owner)
    const r = await cliOnA(['seed', ...ARGS, '--seed', '42', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(json<Summary>(r)).toMatchObject({
      sessionsCreated: 0,
      turns: 0,
      events: 0,
      partitionsCreated: 0,
      skipped: { turns: SESSIONS * TURNS, events: EVENTS },
    })
    expect(await digests(owner)).toEqual(before)
  }, 300_000)

  it('fills the analytics rollups exactly, once even when replayed (analytics see seeded data)', async () => {
    const [turns, events] = await owner.query<{ rollup: string; raw: string }>([
      `SELECT (SELECT json_agg(r ORDER BY r.tenant_id, r.h, r.robot_personality, r.session_id)::text FROM (
                 SELECT tenant_id, hour AS h, robot_personality, session_id, turns::int AS n, user_chars::bigint AS uc,
                        response_chars::bigint AS rc FROM robot_brain.personality_rollups) r) AS rollup,
              (SELECT json_agg(r ORDER BY r.tenant_id, r.h, r.robot_personality, r.session_id)::text FROM (
                 SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS h, robot_personality, session_id, count(*)::int AS n,
                        sum(char_length(user_message))::bigint AS uc, sum(char_length(robot_response))::bigint AS rc
                 FROM robot_brain.conversations GROUP BY 1, 2, 3, 4) r) AS raw`,
      `SELECT (SELECT json_agg(r ORDER BY r.tenant_id, r.h, r.robot_id, r.interaction_type)::text FROM (
                 SELECT tenant_id, hour AS h, robot_id, interaction_type, events::int AS n, successes::int AS ok,
                        duration_sum::bigint AS total, duration_max AS top FROM robot_brain.interaction_rollups) r) AS rollup,
              (SELECT json_agg(r ORDER BY r.tenant_id, r.h, r.robot_id, r.interaction_type)::text FROM (
                 SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS h, robot_id, interaction_type, count(*)::int AS n,
                        count(*) FILTER (WHERE success)::int AS ok, sum(duration_ms)::bigint AS total, max(duration_ms) AS top
                 FROM robot_brain.robot_interactions GROUP BY 1, 2, 3, 4) r) AS raw`,
    ])
    expect(turns?.[0]?.raw).toBeTruthy()
    expect(turns?.[0]?.rollup).toBe(turns?.[0]?.raw)
    expect(events?.[0]?.raw).toBeTruthy()
    expect(events?.[0]?.rollup).toBe(events?.[0]?.raw)
  })

  it('seeds another tenant with chosen personalities and prints a text summary', async () => {
    const r = await cliOnA([
      'seed',
      '--sessions',
      '3',
      '--turns',
      '2',
      '--events',
      '0',
      ...RANGE,
      '--tenant',
      'acme',
      '--personalities',
      'pirate,zen',
      '--seed',
      '9',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/seeded tenant "acme" with seed 9/)
    expect(r.stdout).toMatch(/turns\s+6\b/)
    expect(r.stdout).toMatch(/rows\/s/)
    const [[row]] = (await owner.query([
      `SELECT count(*)::int AS n, array_agg(DISTINCT robot_personality ORDER BY robot_personality) AS p
       FROM robot_brain.conversations WHERE tenant_id = 'acme'`,
    ])) as [[{ n: number; p: string[] }]]
    expect(row.n).toBe(6)
    expect(row.p.every((p) => p === 'pirate' || p === 'zen')).toBe(true)
  }, 300_000)

  it('rejects bad flags with exit 2 and names the flag', async () => {
    const env = dbEnv(a)
    const cases: Array<[string[], RegExp]> = [
      [['--turns', '0'], /--turns/],
      [['--sessions', 'many'], /--sessions/],
      [['--personalities', 'pirate,robot-overlord'], /--personalities.*robot-overlord/],
      [['--from', '2025-02-01', '--to', '2025-01-01'], /--from must be before --to/],
      [['--to', 'yesterday'], /--to/],
      [['--from', '2000-01-01', '--to', '2025-01-01'], /at most 10 years/],
      [['--tenant', 'bad tenant!'], /--tenant/],
    ]
    // Usage errors stop before the database is opened, so the runs may overlap.
    const results = await Promise.all(cases.map(([args]) => cli(['seed', ...args], env)))
    cases.forEach(([args, message], i) => {
      const r = results[i] as (typeof results)[number]
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toMatch(message)
    })
  }, 300_000)
})
