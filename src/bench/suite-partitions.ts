// Suite `partitions`: the turn and history cases at 5 monthly partitions (a new database: the default
// partition, this month and three ahead) and again at 41 (36 past months added with the store's own
// ensure_month_partition: three years kept), in the same run, through PostgreSQL direct, PgBouncer and
// the Neon driver. A database of its own, so the other suites' months do not blur the counts.
// Targets: each 41-partition figure >= 0.9x its 5-partition figure; one writer >= 1.0x the naive
// transaction; history through PgBouncer (no prepared statements) >= 0.8x the raw query.
import { randomInt } from 'node:crypto'
import { type CpuPerOp, MeteredSide, metered, workRatio } from './cpu-meter.js'
import { type CompareOptions, compare, runClosedLoop } from './load.js'
import { ROBOT_RESPONSE, USER_MESSAGE } from './payload.js'
import type { ResultRow, TargetCheck } from './report.js'
import type { RunLog } from './run-log.js'
import { benchOwnerPool, createBenchDatabase, type ServerOptions } from './server.js'
import { openServerTargets } from './server-targets.js'
import { HISTORY_LIMIT, HISTORY_READERS } from './suite-history.js'
import { runTurnCase, type TurnCase } from './suite-turns.js'
import { BENCH_TENANT, type Target, type TargetName } from './targets.js'

export const PAST_MONTHS = 36

interface PartitionProfile {
  compare: CompareOptions
  /** Writers per turn case: PostgreSQL direct, and the other transports. */
  directWriters: number[]
  transportWriters: number[]
  sessions: number
  turnsPerSession: number
}

const PROFILES: Record<'quick' | 'full', PartitionProfile> = {
  // Under half a minute with setup: one short round per side.
  quick: {
    compare: { rounds: 1, durationMs: 250, warmupMs: 60 },
    directWriters: [1, 8, 64],
    transportWriters: [1, 8],
    sessions: 200,
    turnsPerSession: 40,
  },
  full: {
    compare: { rounds: 4, durationMs: 3000, warmupMs: 1000 },
    directWriters: [1, 8, 64],
    transportWriters: [1, 8, 64],
    sessions: 2000,
    turnsPerSession: 100,
  },
}

export interface PartitionRunOptions extends ServerOptions {
  mode: 'quick' | 'full'
  targets: TargetName[]
  keep: boolean
}

/**
 * History's sessions ("p0", "p1", ...): their turns lie in this month, one minute apart, so they are
 * in one partition at both counts. Inserted as the owner with the triggers on, so each turn id is
 * claimed; the sessions carry their span as the write path would set it.
 */
const LOAD_SESSIONS = `
INSERT INTO robot_brain.sessions (tenant_id, id, created_at, last_active, message_count, turns_from, turns_to)
SELECT $1, 'p' || s, t0, t0 + ($3::int - 1) * interval '1 minute', $3::int, t0, t0 + ($3::int - 1) * interval '1 minute'
FROM generate_series(0, $2::int - 1) s,
     LATERAL (SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') + s * interval '1 second' AS t0) t`

const LOAD_TURNS = `
INSERT INTO robot_brain.conversations
  (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
SELECT $1, md5(s || ':' || k)::uuid, 'p' || s, 'cheerful', $4, $5, '{"channel": "web"}', ts
FROM generate_series(0, $2::int - 1) s, generate_series(0, $3::int - 1) k,
     LATERAL (SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                     + s * interval '1 second' + k * interval '1 minute' AS ts) t`

const ADD_PAST_MONTHS = `
SELECT count(*) FILTER (WHERE robot_brain.ensure_month_partition('conversations',
         (date_trunc('month', now() AT TIME ZONE 'UTC') - make_interval(months => m))::date))::int AS created
FROM generate_series(1, $1::int) m`

const COUNT_PARTITIONS = `SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'robot_brain.conversations'::regclass`

const RAW_HISTORY = `
SELECT id, session_id, robot_personality, user_message, robot_response, metadata, created_at
FROM robot_brain.conversations
WHERE tenant_id = $1 AND session_id = $2
ORDER BY created_at DESC, id DESC
LIMIT $3`

async function historyCase(target: Target, p: PartitionProfile): Promise<ResultRow> {
  const pick = () => `p${randomInt(0, p.sessions)}`
  const expect = (n: number, side: string) => {
    if (n !== HISTORY_LIMIT)
      throw new Error(`history (${side}) returned ${n} turns, expected ${HISTORY_LIMIT}`)
  }
  const baseline = new MeteredSide(
    {
      run: (ms) =>
        runClosedLoop(HISTORY_READERS, ms, async () => {
          const { rows } = await target.raw.query({
            text: RAW_HISTORY,
            values: [BENCH_TENANT, pick(), HISTORY_LIMIT],
          })
          expect(rows.length, 'raw')
        }),
    },
    target.owner,
  )
  const project = new MeteredSide(
    {
      run: (ms) =>
        runClosedLoop(HISTORY_READERS, ms, async () => {
          expect((await target.store.history(pick(), { limit: HISTORY_LIMIT })).turns.length, 'store')
        }),
    },
    target.owner,
  )
  const cmp = await compare(baseline, project, p.compare)
  return {
    ...metered(baseline, project),
    suite: 'history',
    target: target.name,
    case: `last ${HISTORY_LIMIT}, ${HISTORY_READERS} readers`,
    key: `history.${target.name}`,
    unit: 'reads/s',
    baselineName: 'raw SELECT',
    projectName: 'history',
    ...cmp,
  }
}

/** Tags a row of the turns or history suite with the partition count it ran at. */
function tagged(row: ResultRow, partitions: number): ResultRow {
  return {
    ...row,
    suite: 'partitions',
    case: `${partitions} partitions: ${row.suite} ${row.case}`,
    key: `partitions.${partitions}.${row.key}`,
    partitions,
  }
}

async function casesAt(run: RunLog, targets: Target[], p: PartitionProfile, partitions: number) {
  for (const target of targets) {
    const writers = target.name === 'pg' ? p.directWriters : p.transportWriters
    for (const w of writers) {
      const c: TurnCase = { writers: w, sessions: 'distinct' }
      const row = await run.step(`partitions ${partitions} turns ${target.name} ${w}`, () =>
        runTurnCase(target, c, p.compare, target.owner),
      )
      if (row) record(run, tagged(row, partitions))
    }
    const row = await run.step(`partitions ${partitions} history ${target.name}`, () =>
      historyCase(target, p),
    )
    if (row) record(run, tagged(row, partitions))
  }
}

/** Records a row and logs what the meter saw, so a long run shows it as it goes. */
function record(run: RunLog, row: ResultRow): void {
  run.record(row)
  const w = workRatio(row.cpu)
  const cpu = (c: CpuPerOp | undefined) =>
    c ? `${c.serverUs === undefined ? '?' : Math.round(c.serverUs)}+${Math.round(c.clientUs)}` : '?'
  run.log(
    `    rounds ${row.roundRatios?.map((x) => x.toFixed(2)).join(' ')} (median ${row.medianRatio?.toFixed(2)}×); ` +
      `CPU µs/op server+client: baseline ${cpu(row.cpu?.baseline)}, project ${cpu(row.cpu?.project)}` +
      (w === undefined ? '' : `, work ratio ${w.toFixed(2)}×`) +
      `; cores used baseline ${row.cpu?.baseline?.cores?.toFixed(2) ?? '?'}, project ${row.cpu?.project?.cores?.toFixed(2) ?? '?'}` +
      `; load ${row.cpu?.project?.load?.toFixed(1) ?? '?'}`,
  )
}

/** Runs the suite; returns the server's version. */
export async function partitionsRun(opts: PartitionRunOptions, run: RunLog): Promise<string | undefined> {
  const p = PROFILES[opts.mode]
  const names = opts.targets.filter((t) => t !== 'pglite')
  if (!names.includes('pg')) return undefined
  run.log('partitions: creating a database of its own')
  const db = await createBenchDatabase(opts)
  const owner = benchOwnerPool(db.ownerUrl, 2)
  let opened: Awaited<ReturnType<typeof openServerTargets>> | undefined
  try {
    opened = await openServerTargets(run, names, db, owner, opts.appLogin)
    await owner.query({ text: LOAD_SESSIONS, values: [BENCH_TENANT, p.sessions, p.turnsPerSession] })
    await owner.query({
      text: LOAD_TURNS,
      values: [BENCH_TENANT, p.sessions, p.turnsPerSession, USER_MESSAGE, ROBOT_RESPONSE],
    })
    await owner.query('VACUUM (ANALYZE) robot_brain.conversations, robot_brain.sessions')
    const count = async () => (await owner.query<{ n: number }>(COUNT_PARTITIONS)).rows[0]?.n ?? 0
    const before = await count()
    run.log(`partitions: ${before} partitions, ${p.sessions * p.turnsPerSession} history turns`)
    await casesAt(run, opened.targets, p, before)
    await owner.query({ text: ADD_PAST_MONTHS, values: [PAST_MONTHS] })
    const after = await count()
    run.log(`partitions: ${after} partitions (${PAST_MONTHS} past months added)`)
    await casesAt(run, opened.targets, p, after)
  } finally {
    await opened?.close()
    await owner.end().catch(() => {})
    if (opts.keep) run.log(`kept database ${db.name}`)
    else await db.drop().catch((err) => run.error(`dropping ${db.name}: ${(err as Error).message}`))
  }
  return db.serverVersion
}

const fmt = (x: number) => `${x.toFixed(2)}×`

function check(name: string, goal: number, value: number | undefined, what = ''): TargetCheck {
  if (value === undefined || !Number.isFinite(value))
    return { name, goal: `≥ ${goal}×`, measured: 'not measured', met: null, note: '' }
  const met = value >= goal
  return {
    name,
    goal: `≥ ${goal}×`,
    measured: `${fmt(value)}${what}`,
    met,
    note: met ? '' : `missed by ${((1 - value / goal) * 100).toFixed(0)}%`,
  }
}

/** The targets for this suite, from its rows (none when it did not run). */
export function partitionTargets(results: ResultRow[]): TargetCheck[] {
  const rows = results.filter((r) => r.suite === 'partitions')
  if (rows.length === 0) return []
  const counts = [...new Set(rows.map((r) => r.partitions ?? 0))].sort((a, b) => a - b)
  const few = counts[0]
  const many = counts[counts.length - 1]
  const at = (n: number | undefined, key: string) =>
    rows.find((r) => r.partitions === n && r.key.endsWith(`.${key}`))
  const checks: TargetCheck[] = []
  for (const r of rows.filter((x) => x.partitions === many)) {
    const base = key(r)
    const small = at(few, base)
    checks.push(
      check(
        `${many} vs ${few} partitions: ${r.projectName}, ${r.case.replace(/^\d+ partitions: /, '')} (${r.target})`,
        0.9,
        small ? r.project.throughput / small.project.throughput : undefined,
        small ? besideIt(r, small) : '',
      ),
    )
  }
  for (const n of counts) {
    checks.push(check(`one writer vs naive, ${n} partitions (pg)`, 1.0, at(n, 'turns.pg.1.distinct')?.ratio))
    checks.push(
      check(`history vs raw through PgBouncer, ${n} partitions`, 0.8, at(n, 'history.pgbouncer')?.ratio),
    )
    checks.push(
      check(`recordTurn vs naive, 8 writers, ${n} partitions (pg)`, 1.5, at(n, 'turns.pg.8.distinct')?.ratio),
    )
    checks.push(
      check(`recordTurn vs naive, 64 writers, ${n} partitions (pg)`, 6, at(n, 'turns.pg.64.distinct')?.ratio),
    )
    checks.push(check(`history vs raw, ${n} partitions (pg)`, 0.9, at(n, 'history.pg')?.ratio))
  }
  return checks
}

/**
 * What the two throughputs, taken minutes apart on a shared machine, leave out: the project's CPU per
 * operation at many partitions over few (server and client; below 1: cheaper), and its ratio to the
 * baseline measured beside it at many partitions over the same at few (the machine's load at each
 * time cancels out).
 */
function besideIt(many: ResultRow, few: ResultRow): string {
  const total = (r: ResultRow) => {
    const c = r.cpu?.project
    return c?.serverUs === undefined ? undefined : c.serverUs + c.clientUs
  }
  const a = total(many)
  const b = total(few)
  const parts: string[] = []
  if (a !== undefined && b !== undefined && b > 0) parts.push(`CPU/op ${fmt(a / b)}`)
  if (few.ratio > 0) parts.push(`vs baseline ${fmt(many.ratio / few.ratio)}`)
  return parts.length > 0 ? ` (${parts.join(', ')})` : ''
}

/** The key of a row without its partition prefix (e.g. turns.pg.8.distinct). */
function key(r: ResultRow): string {
  return r.key.replace(/^partitions\.\d+\./, '')
}
