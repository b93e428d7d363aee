// What `status` reports: connection, server, schema version, row counts and partitions. Read-only
// queries on the owner pool, so counts cover every tenant (row-level security has an owner policy).
import type { Config } from '../config.js'
import { migrationStatus } from '../db/migrate.js'
import { pendingOnlineSteps } from '../db/online-steps.js'
import { OWNER_FIX, ownerProblem, ownerState } from '../db/owner-check.js'
import type { DbPool } from '../db/pool.js'
import type { ReplicaState } from '../db/read-routing.js'
import { redactUrl } from '../db/urls.js'
import { gatherMonitoring, type MonitoringReport } from '../monitoring/index.js'
import { type UpkeepStatus, upkeepStatus } from '../upkeep/status.js'

/** Above this many rows (by the planner's estimate) a table is not counted exactly. */
export const EXACT_COUNT_LIMIT = 1_000_000

export const TABLES = ['sessions', 'conversations', 'robot_interactions'] as const
export const PARTITIONED = ['conversations', 'robot_interactions'] as const
type TableName = (typeof TABLES)[number]

export interface RowCount {
  rows: number
  /** True when `rows` is pg_class.reltuples (the table is too big to count, or was never analyzed). */
  estimated: boolean
}

export interface PartitionInfo {
  name: string
  /** ISO timestamps of the range [from, to); null for the default partition. */
  from: string | null
  to: string | null
  default: boolean
  rows: number | null
  estimated: boolean
  bytes: number
}

export interface StatusReport extends MonitoringReport {
  connection: {
    driver: Config['driver']
    url?: string
    directUrl?: string
    readUrl?: string
    dataDir?: string
    pooled: boolean
  }
  server: { version: string; versionNum: number }
  schema: { current: boolean; applied: string[]; pending: string[]; changed: string[]; unknown: string[] }
  /** Null when the schema does not exist yet, or when the counts cannot be seen (see rowsUnavailable). */
  tables: Record<TableName, RowCount> | null
  /**
   * Why no row counts are given although the schema exists: the owner connection logs in as a role
   * that row-level security limits to some tenants (or none), so its counts would be wrong.
   */
  rowsUnavailable?: string
  partitions: Record<(typeof PARTITIONED)[number], PartitionInfo[]> | null
  /** Turns waiting for a vector by the configured model; null before the search schema (0005). */
  embeddingBacklog: number | null
  /** Online steps of applied migrations not finished yet (resumed by the next migrate). */
  onlineStepsPending: string[]
  /** The session_stats refresh and scheduled upkeep; null before their schema (0008). */
  upkeep: UpkeepStatus | null
  /** How far the read replica is behind the primary; null without a replica, or when it is down. */
  replicaLagSeconds: number | null
  /** The read replica (DATABASE_READ_URL) as read routing sees it; absent without one. */
  replica?: ReplicaState
}

export function connectionInfo(config: Config, pooled: boolean): StatusReport['connection'] {
  if (config.driver === 'pglite') return { driver: 'pglite', dataDir: config.dataDir, pooled: false }
  return {
    driver: config.driver,
    url: config.url && redactUrl(config.url),
    directUrl: config.directUrl && config.directUrl !== config.url ? redactUrl(config.directUrl) : undefined,
    readUrl: config.readUrl && redactUrl(config.readUrl),
    pooled,
  }
}

const SERVER = `SELECT current_setting('server_version') AS version,
  current_setting('server_version_num')::integer AS num`

// Estimates: a plain table's reltuples, or the sum over a partitioned table's partitions (ANALYZE also
// gives the parent a total, which must not be counted twice).
// -1 means never vacuumed or analyzed: counted as unknown, not as zero.
const ESTIMATES = `
SELECT t.name,
       (SELECT coalesce(sum(c.reltuples) FILTER (WHERE c.reltuples >= 0), 0)::float8
        FROM pg_class c
        WHERE (c.oid = to_regclass('robot_brain.' || t.name) AND c.relkind <> 'p')
           OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = to_regclass('robot_brain.' || t.name))
       ) AS estimate
FROM unnest($1::text[]) AS t(name)`

const PARTITIONS = `
SELECT parent.relname AS parent, child.relname AS name,
       pg_get_expr(child.relpartbound, child.oid) AS bound,
       child.reltuples::float8 AS estimate,
       pg_total_relation_size(child.oid)::float8 AS bytes
FROM pg_inherits i
JOIN pg_class parent ON parent.oid = i.inhparent
JOIN pg_class child ON child.oid = i.inhrelid
JOIN pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = 'robot_brain' AND parent.relname = ANY ($1::text[])
ORDER BY parent.relname, child.relname`

/** `FOR VALUES FROM ('2025-01-01 00:00:00+00') TO (...)` → ISO bounds (the text follows the session TimeZone). */
export function parseBound(bound: string): { from: string | null; to: string | null } {
  const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(bound)
  if (!m) return { from: null, to: null }
  return { from: isoTimestamp(m[1] as string), to: isoTimestamp(m[2] as string) }
}

function isoTimestamp(pgText: string): string {
  const iso = pgText.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00')
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? pgText : new Date(ms).toISOString()
}

export async function gatherStatus(
  config: Config,
  owner: DbPool,
  pooled: boolean,
  exactCountLimit = EXACT_COUNT_LIMIT,
): Promise<StatusReport> {
  const server = (await owner.query<{ version: string; num: number }>(SERVER)).rows[0]
  const states = await migrationStatus(owner)
  const names = (status: string) => states.filter((s) => s.status === status).map((s) => s.name)
  const schema = {
    current: states.every((s) => s.status === 'applied'),
    applied: names('applied'),
    pending: names('pending'),
    changed: names('changed'),
    unknown: names('unknown'),
  }
  const report: StatusReport = {
    connection: connectionInfo(config, pooled),
    server: { version: server?.version ?? '?', versionNum: server?.num ?? 0 },
    schema,
    tables: null,
    partitions: null,
    embeddingBacklog: null,
    replicaLagSeconds: null,
    onlineStepsPending: await pendingOnlineSteps(owner),
    upkeep: await upkeepStatus(owner),
    ...(await gatherMonitoring(owner, config.driver === 'pglite')),
  }
  const queue = await owner.query<{ t: string | null }>(
    "SELECT to_regclass('robot_brain.embedding_queue')::text AS t",
  )
  if (queue.rows[0]?.t) {
    const { rows } = await owner.query<{ n: string }>('SELECT count(*) AS n FROM robot_brain.embedding_queue')
    report.embeddingBacklog = Number(rows[0]?.n ?? 0)
  }
  return withCounts(report, owner, exactCountLimit)
}

async function withCounts(
  report: StatusReport,
  owner: DbPool,
  exactCountLimit: number,
): Promise<StatusReport> {
  const present = await owner.query<{ ok: boolean }>({
    text: `SELECT bool_and(to_regclass('robot_brain.' || t) IS NOT NULL) AS ok FROM unnest($1::text[]) AS t`,
    values: [TABLES],
  })
  if (!present.rows[0]?.ok) return report
  // Row-level security hides other tenants' rows from any role but the owner's (and superusers):
  // counting as another role gives a number that looks right and is not.
  const state = await ownerState(owner)
  const problem = state && ownerProblem(state)
  if (problem) {
    const partitions = await partitionsWithoutCounts(owner)
    return { ...report, partitions, rowsUnavailable: `${problem}. Fix: ${OWNER_FIX}` }
  }
  const estimates = new Map(
    (
      await owner.query<{ name: TableName; estimate: number }>({ text: ESTIMATES, values: [TABLES] })
    ).rows.map((r) => [r.name, r.estimate]),
  )
  const partitionRows = (
    await owner.query<{ parent: string; name: string; bound: string; estimate: number; bytes: number }>({
      text: PARTITIONS,
      values: [PARTITIONED],
    })
  ).rows
  const tables = {} as Record<TableName, RowCount>
  const exactByPartition = new Map<string, number>()
  for (const table of TABLES) {
    const estimate = estimates.get(table) ?? 0
    if (estimate > exactCountLimit) {
      tables[table] = { rows: Math.round(estimate), estimated: true }
      continue
    }
    // One scan gives the exact total and, for a partitioned table, each partition's count.
    // The table name comes from the fixed list above, never from input.
    const { rows } = await owner.query<{ part: string; n: string }>(
      `SELECT tableoid::regclass::text AS part, count(*) AS n FROM robot_brain.${table} GROUP BY 1`,
    )
    let total = 0
    for (const r of rows) {
      total += Number(r.n)
      exactByPartition.set(r.part.replace(/^robot_brain\./, ''), Number(r.n))
    }
    tables[table] = { rows: total, estimated: false }
  }
  const partitions = { conversations: [], robot_interactions: [] } as Record<
    (typeof PARTITIONED)[number],
    PartitionInfo[]
  >
  for (const p of partitionRows) {
    const exact = !tables[p.parent as TableName].estimated
    const isDefault = p.bound === 'DEFAULT'
    partitions[p.parent as (typeof PARTITIONED)[number]].push({
      name: p.name,
      ...(isDefault ? { from: null, to: null } : parseBound(p.bound)),
      default: isDefault,
      rows: exact ? (exactByPartition.get(p.name) ?? 0) : p.estimate >= 0 ? Math.round(p.estimate) : null,
      estimated: !exact,
      bytes: p.bytes,
    })
  }
  return { ...report, tables, partitions }
}

/** The partitions with their bounds and sizes only: the caller may not see their rows. */
async function partitionsWithoutCounts(
  owner: DbPool,
): Promise<Record<(typeof PARTITIONED)[number], PartitionInfo[]>> {
  const partitions = { conversations: [], robot_interactions: [] } as Record<
    (typeof PARTITIONED)[number],
    PartitionInfo[]
  >
  const { rows } = await owner.query<{ parent: string; name: string; bound: string; bytes: number }>({
    text: PARTITIONS,
    values: [PARTITIONED],
  })
  for (const p of rows) {
    const isDefault = p.bound === 'DEFAULT'
    partitions[p.parent as (typeof PARTITIONED)[number]].push({
      name: p.name,
      ...(isDefault ? { from: null, to: null } : parseBound(p.bound)),
      default: isDefault,
      rows: null,
      estimated: false,
      bytes: p.bytes,
    })
  }
  return partitions
}
