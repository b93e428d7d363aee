// What the monitoring queries report: one shape for `status --json`, /monitoring and /metrics.

/** Client connections of the whole server, by state, against its limit. */
export interface ConnectionsReport {
  /** max_connections. */
  limit: number
  /** superuser_reserved_connections: slots only superusers may take. */
  reserved: number
  /** Client backends open now (every database). */
  total: number
  /** By pg_stat_activity.state: active, idle, idle in transaction, ...; `unknown` for sessions this role may not see. */
  byState: Record<string, number>
  /** Of `total`, connected to this database. */
  thisDatabase: number
}

export interface SlowStatement {
  queryid: string
  /** The normalized statement text (values are $n placeholders), cut at 500 characters. */
  query: string
  calls: number
  meanMs: number
  maxMs: number
  totalMs: number
  rows: number
}

export interface SlowQueriesReport {
  available: boolean
  /** Why the statistics are unavailable, and how to enable them (when `available` is false). */
  reason?: string
  /** Slowest first by mean execution time; DDL and maintenance statements are left out. */
  statements: SlowStatement[]
}

/** One table or partition of the robot_brain schema. */
export interface RelationReport {
  name: string
  /** The partitioned table it belongs to, or null. */
  parent: string | null
  /** Heap and TOAST; null while another session holds or awaits an exclusive lock on it. */
  tableBytes: number | null
  /** All its indexes; null as tableBytes. */
  indexBytes: number | null
  liveTuples: number
  deadTuples: number
  /** ISO timestamps; null when never. */
  lastVacuum: string | null
  lastAutovacuum: string | null
  lastAnalyze: string | null
  lastAutoanalyze: string | null
}

export interface WaitingLock {
  pid: number
  locktype: string
  mode: string
  /** The relation waited for, when the lock is on one. */
  relation: string | null
  waitingSeconds: number
  /** Sessions holding what this one waits for. */
  blockedBy: number[]
  /** The waiting statement, cut at 200 characters. */
  query: string
}

export interface MonitoringReport {
  /** Null on the embedded database (one in-process connection). */
  connections: ConnectionsReport | null
  slowQueries: SlowQueriesReport
  /** Share of block reads served from shared buffers in this database; null before any read. */
  cacheHitRatio: number | null
  /** Block reads behind the ratio: hits from shared buffers, reads from disk (or the OS cache). */
  cacheBlocks: { hits: number; reads: number }
  /** Tables and partitions of the schema: sizes, dead tuples, last vacuum and analyze. */
  relations: RelationReport[]
  /** Null on the embedded database (no other session can hold a lock). */
  waitingLocks: WaitingLock[] | null
  /** What does not apply to this database, and why (the embedded database). */
  notApplicable: string[]
}
