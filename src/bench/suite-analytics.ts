// Suite `analytics`: each analytics query answered from the rollups (store.analytics, through the
// store as the application role) against the same figures computed from the raw rows in SQL (the
// owner: no row-level security), in the same run, alternating; and event ingest with the rollup upserts
// (the store's statement) against the same statement without it. A database of its own, loaded
// server-side (INSERT ... SELECT generate_series, triggers off) with 10M events and 1M turns over 90
// days in the full run, then the rollups filled as the write path leaves them (hourly and daily, 0006 and 0016).
// Targets: p95 <= 20 ms for a 30-day range by day; rollups >= 50x faster than raw at the full event
// count; ingest with rollups >= 0.8x of without. The first answer of each query is checked against the
// raw figures (counts exact, percentiles within 1%): a mismatch is an error of the run.
import { performance } from 'node:perf_hooks'
import type { Bucket } from '../analytics/range.js'
import type { DbPool } from '../db/pool.js'
import { eventGroupCommit, insertInteractionBatches, insertInteractions } from '../store/interactions.js'
import { forgetEmptyPartitionStats } from '../upkeep/partitions.js'
import { type CompareOptions, type Comparison, compare, runClosedLoop } from './load.js'
import { makeEvents, ROBOT_RESPONSE, USER_MESSAGE } from './payload.js'
import type { ResultRow, TargetCheck } from './report.js'
import type { RunLog } from './run-log.js'
import { benchOwnerPool, createBenchDatabase, type ServerOptions } from './server.js'
import { openServerTargets } from './server-targets.js'
import { summarize } from './stats.js'
import { BENCH_TENANT, type Target } from './targets.js'

export interface AnalyticsProfile {
  events: number
  turns: number
  turnsPerSession: number
  /** The data spans this many days up to the load. */
  days: number
  /** Timed answers per query: from the rollups, and from the raw rows (slow at size: few). */
  projectSamples: number
  rawSamples: number
  /** Time the rollup side of one query may take at most, over all rounds (ms). */
  projectBudgetMs: number
  /** Untimed answers of the rollup side before timing (the raw side gets one). */
  warmups: number
  ingest: CompareOptions
  ingestWriters: number[]
  batch: number
}

export const PROFILES: Record<'quick' | 'full', AnalyticsProfile> = {
  // About 15 s with setup on 2 cores: small sizes, the time each side may take bounded.
  quick: {
    events: 30_000,
    turns: 5_000,
    turnsPerSession: 50,
    days: 90,
    projectSamples: 40,
    rawSamples: 2,
    projectBudgetMs: 500,
    warmups: 1,
    ingest: { rounds: 2, durationMs: 400, warmupMs: 100 },
    ingestWriters: [1],
    batch: 1000,
  },
  full: {
    events: 10_000_000,
    turns: 1_000_000,
    turnsPerSession: 50,
    days: 90,
    projectSamples: 200,
    rawSamples: 6,
    projectBudgetMs: 30_000,
    warmups: 3,
    ingest: { rounds: 4, durationMs: 3000, warmupMs: 1000 },
    ingestWriters: [1, 8],
    batch: 1000,
  },
}

const ROBOTS = 20
const TYPES = ['greeting', 'answer', 'navigate', 'handoff', 'farewell']
const PERSONALITIES = ['cheerful', 'stoic', 'pirate', 'poet', 'helper']
const CHUNK = 1_000_000
export const INGEST_TENANT = 'bench-ingest'

const PARTITIONS = `
SELECT robot_brain.ensure_month_partition(t, m::date)
FROM unnest(ARRAY['conversations', 'robot_interactions']) t,
     generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'), $2::timestamptz AT TIME ZONE 'UTC',
                     interval '1 month') m`

// $1 tenant, $2 start, $3 seconds between events, $4..$5 the event numbers. Durations: a long tail
// from 1 ms to minutes; one in ten fails.
const LOAD_EVENTS = `
INSERT INTO robot_brain.robot_interactions
  (tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
SELECT $1, md5('e:' || i)::uuid, 'robot-' || (i % ${ROBOTS}),
       (ARRAY[${TYPES.map((t) => `'${t}'`).join(', ')}])[1 + (i / ${ROBOTS}) % ${TYPES.length}],
       floor(exp(random() * 11))::integer, random() >= 0.1, '{"channel": "web"}',
       $2::timestamptz + make_interval(secs => i * $3::float8)
FROM generate_series($4::bigint, $5::bigint - 1) i`

// $1 tenant, $2 start, $3 span in seconds (minus a session's length), $4 turns per session, $5..$6 the sessions.
const SESSION_START = `$2::timestamptz + make_interval(secs => $3::float8 * (s * 0.6180339887498949 - floor(s * 0.6180339887498949)))`
const LOAD_SESSIONS = `
INSERT INTO robot_brain.sessions (tenant_id, id, created_at, last_active, message_count, turns_from, turns_to)
SELECT $1, 'a' || s, st, st + ($4::int - 1) * interval '30 seconds', $4::int, st, st + ($4::int - 1) * interval '30 seconds'
FROM generate_series($5::int, $6::int - 1) s, LATERAL (SELECT ${SESSION_START} AS st) t`

// $7, $8: the texts whose prefixes make messages of varied lengths; one turn in twenty awaits its answer.
const LOAD_TURNS = `
INSERT INTO robot_brain.conversations
  (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
SELECT $1, md5('t:' || s || ':' || k)::uuid, 'a' || s,
       (ARRAY[${PERSONALITIES.map((p) => `'${p}'`).join(', ')}])[1 + s % ${PERSONALITIES.length}],
       left($7, 10 + (s * 7 + k * 13) % 80),
       CASE WHEN (s + k) % 20 = 0 THEN NULL ELSE left($8, 20 + (s * 11 + k * 17) % 240) END,
       '{"channel": "web"}', st + k * interval '30 seconds'
FROM generate_series($5::int, $6::int - 1) s, LATERAL (SELECT ${SESSION_START} AS st) t,
     generate_series(0, $4::int - 1) k`

// The rollups as the write path leaves them: turns as migration 0006 fills them; hourly interaction
// rows with sketch entries (migration 0016), and the daily rows from the hourly ones as migration 0016
// backfills them. Each in time order, as the write path stores them (a row is made when its hour's or
// day's first write arrives): a hash aggregate's order scattered a month's personality rows over as
// many heap pages as rows, which doubled the time of a 30-day answer against any live database.
const FILL_ROLLUPS = [
  `INSERT INTO robot_brain.personality_rollups
   SELECT tenant_id, date_trunc('hour', created_at, 'UTC'), robot_personality, session_id,
          count(*), coalesce(sum(char_length(user_message)), 0),
          count(robot_response), coalesce(sum(char_length(robot_response)), 0)
   FROM robot_brain.conversations WHERE tenant_id = $1
   GROUP BY 1, 2, 3, 4
   ORDER BY 2`,
  `INSERT INTO robot_brain.interaction_rollups
     (tenant_id, hour, robot_id, interaction_type, events, successes, duration_sum, duration_max, sketch, sketch_entries)
   SELECT tenant_id, hour, robot_id, interaction_type, sum(n), sum(ok), sum(total), max(top), '{}'::jsonb,
          array_agg(robot_brain.sketch_entry(idx, n) ORDER BY idx)
   FROM (
     SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, robot_id, interaction_type,
            robot_brain.sketch_index(duration_ms) AS idx, count(*) AS n,
            count(*) FILTER (WHERE success) AS ok, sum(duration_ms) AS total, max(duration_ms) AS top
     FROM robot_brain.robot_interactions WHERE tenant_id = $1
     GROUP BY 1, 2, 3, 4, 5
   ) b
   GROUP BY 1, 2, 3, 4
   ORDER BY 2`,
  `INSERT INTO robot_brain.interaction_day_rollups
   WITH hours AS (
     SELECT r.*, d.dim, d.key, date_trunc('day', r.hour, 'UTC') AS day
     FROM robot_brain.interaction_rollups r
     CROSS JOIN LATERAL (VALUES ('r'::"char", r.robot_id), ('t'::"char", r.interaction_type)) d(dim, key)
     WHERE r.tenant_id = $1
   ),
   sketches AS (
     SELECT tenant_id, dim, day, key, robot_brain.sketch_compact(array_agg(e)) AS s
     FROM hours CROSS JOIN LATERAL unnest(sketch_entries) e
     GROUP BY 1, 2, 3, 4
   )
   SELECT c.*, coalesce(k.s, '{}')
   FROM (
     SELECT tenant_id, dim, day, key, sum(events)::bigint AS events, sum(successes)::bigint AS successes,
            sum(duration_sum)::bigint AS duration_sum, max(duration_max) AS duration_max
     FROM hours GROUP BY 1, 2, 3, 4
   ) c
   LEFT JOIN sketches k USING (tenant_id, dim, day, key)
   ORDER BY c.day`,
]

/** The figures from the raw rows: $1 tenant, $2 from, $3 to, $4 bucket (when bucketed). */
function rawInteractions(column: 'robot_id' | 'interaction_type', bucketed: boolean): string {
  const groups = bucketed
    ? `GROUPING SETS ((${column}), (date_trunc($4::text, created_at, 'UTC'), ${column}))`
    : column
  return `
SELECT ${bucketed ? "date_trunc($4::text, created_at, 'UTC')" : 'NULL::timestamptz'} AS start, ${column} AS key,
       count(*)::bigint AS events, count(*) FILTER (WHERE success)::bigint AS successes,
       avg(duration_ms)::float8 AS avg, max(duration_ms) AS max,
       percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS pct
FROM robot_brain.robot_interactions
WHERE tenant_id = $1 AND created_at >= $2::timestamptz AND created_at < $3::timestamptz
GROUP BY ${groups}`
}

function rawPersonalities(bucketed: boolean): string {
  const groups = bucketed
    ? "GROUPING SETS ((robot_personality), (date_trunc($4::text, created_at, 'UTC'), robot_personality))"
    : 'robot_personality'
  return `
SELECT ${bucketed ? "date_trunc($4::text, created_at, 'UTC')" : 'NULL::timestamptz'} AS start,
       robot_personality AS key, count(*)::bigint AS turns, count(DISTINCT session_id)::bigint AS sessions,
       avg(char_length(user_message))::float8 AS avg_user, avg(char_length(robot_response))::float8 AS avg_response
FROM robot_brain.conversations
WHERE tenant_id = $1 AND created_at >= $2::timestamptz AND created_at < $3::timestamptz
GROUP BY ${groups}`
}

export interface QueryCase {
  key: string
  label: string
  /** The range's length in days (from `now` back), or null for all the data. */
  days: number | null
  bucket: Bucket | null
  kind: 'personalities' | 'robotId' | 'interactionType'
}

export const CASES: QueryCase[] = [
  {
    key: 'personalities.30d.day',
    label: 'personalities, 30 days by day',
    days: 30,
    bucket: 'day',
    kind: 'personalities',
  },
  {
    key: 'interactions.robot.30d.day',
    label: 'interactions by robot, 30 days by day',
    days: 30,
    bucket: 'day',
    kind: 'robotId',
  },
  {
    key: 'interactions.type.30d.day',
    label: 'interactions by type, 30 days by day',
    days: 30,
    bucket: 'day',
    kind: 'interactionType',
  },
  {
    key: 'personalities.all',
    label: 'personalities, all turns',
    days: null,
    bucket: null,
    kind: 'personalities',
  },
  {
    key: 'interactions.robot.all',
    label: 'interactions by robot, all events',
    days: null,
    bucket: null,
    kind: 'robotId',
  },
]

interface Totals {
  key: string
  count: number
  sessions?: number
  successes?: number
  p50?: number | null
  p95?: number | null
  p99?: number | null
  buckets: number
}

/** Rollup answers and raw figures side by side: counts exact, percentiles within 1% (the sketch's promise). */
function verify(project: Totals[], raw: Totals[]): string | null {
  if (project.length !== raw.length)
    return `${project.length} groups from the rollups, ${raw.length} from raw rows`
  const byKey = new Map(raw.map((r) => [r.key, r]))
  for (const p of project) {
    const r = byKey.get(p.key)
    if (!r) return `group ${p.key} missing from the raw figures`
    for (const f of ['count', 'sessions', 'successes', 'buckets'] as const) {
      if (p[f] !== r[f]) return `${p.key}: ${f} ${p[f]} from the rollups, ${r[f]} from raw rows`
    }
    for (const f of ['p50', 'p95', 'p99'] as const) {
      const a = p[f]
      const b = r[f]
      if (a === undefined || b === undefined || a === null || b === null) continue
      if (Math.abs(a - b) > 0.01 * Math.abs(b) + 1e-9)
        return `${p.key}: ${f} ${a} from the rollups, ${b} exact (over 1%)`
    }
  }
  return null
}

async function projectTotals(target: Target, c: QueryCase, from: Date, to: Date): Promise<Totals[]> {
  const range = { from: from.toISOString(), to: to.toISOString(), ...(c.bucket ? { bucket: c.bucket } : {}) }
  if (c.kind === 'personalities') {
    const { personalities } = await target.store.analytics.personalities(range)
    return personalities.map((p) => ({
      key: p.robotPersonality,
      count: p.turns,
      sessions: p.sessions,
      buckets: p.buckets.length,
    }))
  }
  const { groups } = await target.store.analytics.interactions({ ...range, groupBy: c.kind })
  return groups.map((g) => ({
    key: g.key,
    count: g.count,
    successes: g.successes,
    p50: g.durationMs.p50,
    p95: g.durationMs.p95,
    p99: g.durationMs.p99,
    buckets: g.buckets.length,
  }))
}

async function rawTotals(raw: DbPool, c: QueryCase, from: Date, to: Date): Promise<Totals[]> {
  const bucketed = c.bucket !== null
  const values: unknown[] = [BENCH_TENANT, from.toISOString(), to.toISOString()]
  if (bucketed) values.push(c.bucket)
  const text =
    c.kind === 'personalities'
      ? rawPersonalities(bucketed)
      : rawInteractions(c.kind === 'robotId' ? 'robot_id' : 'interaction_type', bucketed)
  const { rows } = await raw.query<{
    start: Date | null
    key: string
    events?: string
    turns?: string
    sessions?: string
    successes?: string
    pct?: number[]
  }>({ text, values })
  const totals = new Map<string, Totals>()
  for (const r of rows) {
    const t = totals.get(r.key) ?? { key: r.key, count: 0, buckets: 0 }
    totals.set(r.key, t)
    if (r.start !== null) {
      t.buckets++
      continue
    }
    t.count = Number(r.events ?? r.turns)
    if (r.sessions !== undefined) t.sessions = Number(r.sessions)
    if (r.successes !== undefined) t.successes = Number(r.successes)
    if (r.pct) [t.p50, t.p95, t.p99] = r.pct.map(Number)
  }
  return [...totals.values()]
}

/** Sequential timed answers of both sides, alternating rounds (the raw side is slow at size). */
async function timeQuery(
  project: () => Promise<unknown>,
  raw: () => Promise<unknown>,
  p: AnalyticsProfile,
): Promise<Comparison> {
  const timed = async (fn: () => Promise<unknown>, n: number, into: number[], budgetMs = Infinity) => {
    const t0 = performance.now()
    for (let i = 0; i < n && (i === 0 || performance.now() - t0 < budgetMs); i++) {
      const t = performance.now()
      await fn()
      into.push(performance.now() - t)
    }
    return performance.now() - t0
  }
  await timed(project, p.warmups, [])
  await timed(raw, 1, [])
  const pl: number[] = []
  const rl: number[] = []
  let pms = 0
  let rms = 0
  const perRound = Math.ceil(p.projectSamples / p.rawSamples)
  const roundBudget = p.projectBudgetMs / p.rawSamples
  for (let round = 0; round < p.rawSamples; round++) {
    if (round % 2 === 0) {
      rms += await timed(raw, 1, rl)
      pms += await timed(project, perRound, pl, roundBudget)
    } else {
      pms += await timed(project, perRound, pl, roundBudget)
      rms += await timed(raw, 1, rl)
    }
  }
  const baseline = summarize(rl, rms)
  const proj = summarize(pl, pms)
  return {
    baseline,
    project: proj,
    ratio: baseline.throughput > 0 ? proj.throughput / baseline.throughput : Number.NaN,
  }
}

export async function queryCase(
  run: RunLog,
  target: Target,
  c: QueryCase,
  p: AnalyticsProfile,
  end: Date,
): Promise<ResultRow | undefined> {
  const to = end
  const from =
    c.days === null
      ? new Date(end.getTime() - (p.days + 1) * 86_400_000)
      : new Date(end.getTime() - c.days * 86_400_000)
  // The first answer also stores the closed-day answers it lacks (interaction queries): timed apart.
  const t0 = performance.now()
  const first = await projectTotals(target, c, from, to)
  const firstMs = performance.now() - t0
  const problem = verify(first, await rawTotals(target.raw, c, from, to))
  if (problem) run.error(`analytics ${c.label}: the rollups disagree with the raw rows: ${problem}`)
  else
    run.checks.push(
      `analytics ${c.label}: rollup figures match the raw rows (counts exact, percentiles within 1%); first answer ${firstMs.toFixed(0)} ms${c.kind === 'personalities' ? '' : ', closed-day answers included'}`,
    )
  const cmp = await timeQuery(
    () => projectTotals(target, c, from, to),
    () => rawTotals(target.raw, c, from, to),
    p,
  )
  const counted = c.kind === 'personalities' ? p.turns : p.events
  const share = c.days === null ? 1 : c.days / p.days
  return {
    suite: 'analytics',
    target: target.name,
    case: `${c.label} (~${Math.round(counted * share).toLocaleString('en-US')} ${c.kind === 'personalities' ? 'turns' : 'events'})`,
    key: `analytics.${c.key}`,
    unit: 'queries/s',
    baselineName: 'raw rows (SQL)',
    projectName: 'rollups',
    ...cmp,
  }
}

/** Batches the ingest case writes, with the rollups, before it measures (see ingestCase). */
export const INGEST_FIRST_BATCHES = 5

export async function ingestCase(target: Target, writers: number, p: AnalyticsProfile): Promise<ResultRow> {
  const store = target.root.tenant(INGEST_TENANT)
  await store.ready()
  const app = store.transport.app
  let seed = 0
  // The ingest tenant's first rows, then fresh statistics of the month they land in, as autovacuum
  // gives them within about a minute of a tenant's first writes. Autovacuum may be off on a bench
  // machine, and the load's statistics do not know this tenant: on a month's first day the replay
  // check then read all of its rows of the month once per batch (docs/design-notes.md).
  for (let i = 0; i < INGEST_FIRST_BATCHES; i++) {
    seed += p.batch
    await insertInteractions(app, INGEST_TENANT, makeEvents(p.batch, seed), true)
  }
  await target.owner.query('ANALYZE robot_brain.robot_interactions')
  await forgetEmptyPartitionStats(target.owner)
  // Both sides go through the store's group commit for events (concurrent writers of a tenant merge,
  // at most two statements at a time), as recordInteractions writes; only the statement differs.
  const { groupCommit, poolMax } = target.root.config
  const side = (rollups: boolean) => {
    const writer = eventGroupCommit(groupCommit, poolMax, (tenant, batches) =>
      insertInteractionBatches(app, tenant, batches, rollups),
    )
    return {
      perOp: p.batch,
      run: (ms: number) =>
        runClosedLoop(writers, ms, async () => {
          seed += p.batch
          const n = await writer.submit(INGEST_TENANT, makeEvents(p.batch, seed))
          if (n !== p.batch) throw new Error(`stored ${n} of ${p.batch} events`)
        }),
    }
  }
  const cmp = await compare(side(false), side(true), p.ingest)
  return {
    suite: 'analytics',
    target: target.name,
    case: `ingest, batches of ${p.batch.toLocaleString('en-US')}, ${writers} writer${writers > 1 ? 's' : ''}`,
    key: `analytics.ingest.${writers}`,
    unit: 'events/s',
    baselineName: 'insert without rollups',
    projectName: 'insert with rollups',
    ...cmp,
  }
}

/** Loads the data set of `p` for BENCH_TENANT, ending at `end`, and fills its rollups. */
export async function loadAnalyticsData(
  run: RunLog,
  owner: DbPool,
  p: AnalyticsProfile,
  end: Date,
): Promise<void> {
  const start = new Date(end.getTime() - p.days * 86_400_000)
  const t0 = performance.now()
  const client = await owner.connect()
  try {
    await client.query({ text: PARTITIONS, values: [start.toISOString(), end.toISOString()] })
    // Triggers off for the load (search vectors, the embedding queue, id claims: not what is measured);
    // the sessions carry their span themselves.
    await client.query('SET session_replication_role = replica')
    await client.query('SELECT setseed(0.42)')
    const step = (p.days * 86_400) / Math.max(1, p.events)
    for (let a = 0; a < p.events; a += CHUNK) {
      const b = Math.min(p.events, a + CHUNK)
      await client.query({ text: LOAD_EVENTS, values: [BENCH_TENANT, start.toISOString(), step, a, b] })
      run.log(`  analytics: ${b.toLocaleString('en-US')} events`)
    }
    const sessions = Math.ceil(p.turns / p.turnsPerSession)
    const span = p.days * 86_400 - p.turnsPerSession * 30 - 60
    const perChunk = Math.max(1, Math.floor(CHUNK / 4 / p.turnsPerSession))
    for (let a = 0; a < sessions; a += perChunk) {
      const b = Math.min(sessions, a + perChunk)
      const v = [BENCH_TENANT, start.toISOString(), span, p.turnsPerSession, a, b]
      await client.query({ text: LOAD_SESSIONS, values: v })
      await client.query({ text: LOAD_TURNS, values: [...v, USER_MESSAGE.repeat(2), ROBOT_RESPONSE] })
    }
    run.log(`  analytics: ${(sessions * p.turnsPerSession).toLocaleString('en-US')} turns`)
    await client.query('RESET session_replication_role')
    for (const sql of FILL_ROLLUPS) await client.query({ text: sql, values: [BENCH_TENANT] })
    await client.query(
      'VACUUM (ANALYZE) robot_brain.robot_interactions, robot_brain.conversations, robot_brain.sessions, robot_brain.interaction_rollups, robot_brain.interaction_day_rollups, robot_brain.personality_rollups',
    )
    client.release()
  } catch (err) {
    client.release(err as Error)
    throw err
  }
  // As the product's analyze leaves them: the months ahead unanalyzed (else the ingest measured on a
  // month's first day reads its fresh partition by sequential scans).
  await forgetEmptyPartitionStats(owner)
  run.log(`  analytics: loaded and rolled up in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

/**
 * ROBOT_BRAIN_BENCH_ANALYTICS_SIZES="events,turns" replaces the profile's sizes (to rerun one side
 * after a change without loading the other: "0,1000000" measures only the personality queries).
 */
export function withSizes(p: AnalyticsProfile, sizes: string | undefined): AnalyticsProfile {
  if (!sizes?.trim()) return p
  const [events, turns] = sizes.split(',').map((x) => Number(x.trim()))
  const ok = (n: number | undefined): n is number => Number.isInteger(n) && (n as number) >= 0
  if (!ok(events) || !ok(turns) || events + turns === 0) {
    throw new Error(
      'ROBOT_BRAIN_BENCH_ANALYTICS_SIZES must be "events,turns" (non-negative integers, not both 0)',
    )
  }
  return { ...p, events, turns }
}

export interface AnalyticsRunOptions extends ServerOptions {
  mode: 'quick' | 'full'
  keep: boolean
}

/** Runs the suite on PostgreSQL direct; returns the server's version. */
export async function analyticsRun(opts: AnalyticsRunOptions, run: RunLog): Promise<string | undefined> {
  const p = withSizes(PROFILES[opts.mode], process.env.ROBOT_BRAIN_BENCH_ANALYTICS_SIZES)
  run.log('analytics: creating a database of its own')
  const db = await createBenchDatabase(opts)
  const owner = benchOwnerPool(db.ownerUrl, 2)
  let opened: Awaited<ReturnType<typeof openServerTargets>> | undefined
  try {
    opened = await openServerTargets(run, ['pg'], db, owner, opts.appLogin)
    const target = opened.targets[0] as Target
    const end = new Date()
    run.log(
      `analytics: loading ${p.events.toLocaleString('en-US')} events and ${p.turns.toLocaleString('en-US')} turns over ${p.days} days`,
    )
    await loadAnalyticsData(run, owner, p, end)
    for (const c of CASES) {
      if ((c.kind === 'personalities' ? p.turns : p.events) === 0) continue
      run.record(await run.step(`analytics ${c.label}`, () => queryCase(run, target, c, p, end)))
    }
    for (const w of p.events > 0 ? p.ingestWriters : []) {
      run.record(await run.step(`analytics ingest ${w} writers`, () => ingestCase(target, w, p)))
    }
  } finally {
    await opened?.close()
    await owner.end().catch(() => {})
    if (opts.keep) run.log(`kept database ${db.name}`)
    else await db.drop().catch((err) => run.error(`dropping ${db.name}: ${(err as Error).message}`))
  }
  return db.serverVersion
}

const P95_GOAL_MS = 20
const SPEEDUP_GOAL = 50
const INGEST_GOAL = 0.8

/** The issue's targets for this suite, from its rows (none when it did not run). */
export function analyticsTargets(results: ResultRow[]): TargetCheck[] {
  const rows = results.filter((r) => r.suite === 'analytics')
  if (rows.length === 0) return []
  const checks: TargetCheck[] = []
  for (const r of rows.filter((x) => x.key.endsWith('.30d.day'))) {
    const v = r.project.p95Ms
    const met = Number.isFinite(v) ? v <= P95_GOAL_MS : null
    checks.push({
      name: `analytics p95, ${r.case}`,
      goal: `≤ ${P95_GOAL_MS} ms`,
      measured: `${v.toFixed(2)} ms`,
      met,
      note: met === false ? `over by ${((v / P95_GOAL_MS - 1) * 100).toFixed(0)}%` : '',
    })
  }
  for (const r of rows.filter((x) => !x.key.startsWith('analytics.ingest'))) {
    // Faster = raw latency / rollup latency, at the median.
    const speedup = r.baseline.p50Ms / r.project.p50Ms
    const met = Number.isFinite(speedup) ? speedup >= SPEEDUP_GOAL : null
    checks.push({
      name: `rollups vs raw rows (p50), ${r.case}`,
      goal: `≥ ${SPEEDUP_GOAL}×`,
      measured: `${speedup.toFixed(1)}×`,
      met,
      note: met === false ? `missed by ${((1 - speedup / SPEEDUP_GOAL) * 100).toFixed(0)}%` : '',
    })
  }
  for (const r of rows.filter((x) => x.key.startsWith('analytics.ingest'))) {
    const met = Number.isFinite(r.ratio) ? r.ratio >= INGEST_GOAL : null
    checks.push({
      name: `event ingest with rollups vs without, ${r.case.replace(/^ingest, /, '')}`,
      goal: `≥ ${INGEST_GOAL}×`,
      measured: `${r.ratio.toFixed(2)}×`,
      met,
      note: met === false ? `missed by ${((1 - r.ratio / INGEST_GOAL) * 100).toFixed(0)}%` : '',
    })
  }
  return checks
}
