// Read routing: analytics, search and statistics read from the replica (DATABASE_READ_URL) when it is
// up and fresh enough, and from the primary otherwise, without an error to the caller.
//
// Freshness is measured against the primary's WAL, not with pg_last_xact_replay_timestamp() (which
// stands still on an idle primary and so cannot tell idle from disconnected). A check reads the
// primary's pg_current_wal_lsn(), then the replica's pg_last_wal_replay_lsn(); a kept history of
// those primary samples tells `coveredUntil`: the newest sample time whose LSN the replica has
// replayed. Every write acknowledged before that time is visible on the replica, so:
//   - lag = now - coveredUntil (grows by itself between checks, so a stale verdict cannot go on
//     sending reads to a replica that stopped);
//   - read-your-writes: a tenant that wrote at W reads from the primary until coveredUntil > W.
// Checks run when a routed read finds the last one older than checkIntervalMs, never on a timer: an
// idle process wakes no database. Within one process only: another process does not know this one's
// writes (a client that writes through one server and reads through another sees its writes once the
// replica has them, within the lag bound).
import type { DbClient, DbPool, QueryResult, SqlQuery } from './pool.js'
import { ReplicaBehindError, retryReason } from './retry.js'
import { SQLSTATE } from './sqlstate.js'

export interface ReadRoutingOptions {
  /** Reads leave the replica when it is further behind than this (ms). */
  maxLagMs: number
  /** A routed read checks the replica again when the last check is older than this (ms). */
  checkIntervalMs: number
  /** A check that takes longer counts as the replica being down (ms). */
  checkTimeoutMs: number
}

export const DEFAULT_READ_ROUTING: ReadRoutingOptions = {
  maxLagMs: 10_000,
  checkIntervalMs: 1_000,
  checkTimeoutMs: 2_000,
}

export interface ReplicaState {
  /** A replica is configured (DATABASE_READ_URL differs from the primary). */
  configured: boolean
  /** The last check reached it (null: not checked yet). */
  up: boolean | null
  /** How far behind the primary it is (ms); null when not known (down, never checked, not configured). */
  lagMs: number | null
  maxLagMs: number
  /** Whether reads that may use it do now. */
  serving: boolean
  /** Routed reads so far, by where they ran; `fallbacks`: replica errors answered by the primary. */
  reads: { replica: number; primary: number; fallbacks: number }
  /** Why it is not serving, in a few words (no addresses, no secrets). */
  reason?: string
}

interface Sample {
  at: number
  lsn: bigint
}

const ALL_TENANTS = '\u0000all'
/** Primary samples kept: enough to measure lag up to this long at one check per interval. */
const MAX_SAMPLES = 4096

export class ReadRouter {
  private readonly samples: Sample[] = []
  private coveredUntil: number | null = null
  private up: boolean | null = null
  private reason: string | undefined
  private lastCheck = Number.NEGATIVE_INFINITY
  private checking: Promise<void> | undefined
  private readonly writes = new Map<string, number>()
  private readonly counts = { replica: 0, primary: 0, fallbacks: 0 }

  constructor(
    private readonly primary: DbPool,
    /** Null: no replica; every read goes to the primary. */
    private readonly replica: DbPool | null,
    readonly options: ReadRoutingOptions = DEFAULT_READ_ROUTING,
  ) {}

  get configured(): boolean {
    return this.replica !== null
  }

  /** A pool for one tenant's routed reads: each query (or transaction) picks its server when it starts. */
  reader(tenant: string): DbPool {
    if (!this.replica) return this.primary
    return new RoutedPool(this, tenant)
  }

  /**
   * Call after a write for `tenant` returns (or fails: it may have committed); null: a write that may
   * touch any tenant (migrations, maintenance). That tenant's routed reads use the primary until the
   * replica has replayed past this moment.
   */
  noteWrite(tenant: string | null): void {
    if (!this.replica) return
    this.writes.set(tenant ?? ALL_TENANTS, Date.now())
  }

  /** The pool a read for `tenant` runs on now: checks the replica first when the last check is stale. */
  async choose(tenant: string): Promise<{ pool: DbPool; replica: boolean }> {
    const replica = this.replica
    if (!replica) return { pool: this.primary, replica: false }
    if (Date.now() - this.lastCheck >= this.options.checkIntervalMs) await this.check()
    const covered = this.coveredUntil
    const fresh =
      this.up === true &&
      covered !== null &&
      Date.now() - covered <= this.options.maxLagMs &&
      (this.writes.get(tenant) ?? Number.NEGATIVE_INFINITY) < covered &&
      (this.writes.get(ALL_TENANTS) ?? Number.NEGATIVE_INFINITY) < covered
    if (fresh) this.counts.replica++
    else this.counts.primary++
    return fresh ? { pool: replica, replica: true } : { pool: this.primary, replica: false }
  }

  /**
   * The replica failed a routed read: counts it, stops using the replica until a check says otherwise
   * when it is unreachable, and gives the primary to answer instead.
   */
  replicaFailed(err: unknown): DbPool {
    this.counts.replica--
    this.counts.primary++
    this.counts.fallbacks++
    if (isUnreachable(err) || isBehind(err)) this.markDown(err)
    return this.primary
  }

  /**
   * A read transaction on the replica failed with an error the primary would not give (unreachable,
   * or a migration not replayed yet): stops using the replica until a check says otherwise, counts a
   * fallback, and gives the error to throw, retryable so that the read runs again on the primary.
   */
  transactionFailed(err: unknown): unknown {
    if (isUnreachable(err)) {
      this.markDown(err)
      return err
    }
    if (!isBehind(err)) return err
    this.markDown(err)
    // The read runs again and counts where it runs then.
    this.counts.replica--
    this.counts.fallbacks++
    return new ReplicaBehindError(err)
  }

  /** Checks the replica now (one at a time: concurrent callers share the check in flight). */
  check(): Promise<void> {
    this.checking ??= this.runCheck().finally(() => {
      this.checking = undefined
    })
    return this.checking
  }

  /** What status and /metrics show. */
  state(): ReplicaState {
    const covered = this.coveredUntil
    const lagMs = this.replica && this.up && covered !== null ? Math.max(0, Date.now() - covered) : null
    const serving = lagMs !== null && lagMs <= this.options.maxLagMs
    return {
      configured: this.replica !== null,
      up: this.replica ? this.up : null,
      lagMs,
      maxLagMs: this.options.maxLagMs,
      serving,
      reads: { ...this.counts },
      ...(this.replica && !serving
        ? {
            reason:
              this.reason ??
              (this.up === null
                ? 'not checked yet'
                : lagMs === null
                  ? 'lag not known yet'
                  : `behind by more than ${this.options.maxLagMs} ms`),
          }
        : {}),
    }
  }

  private async runCheck(): Promise<void> {
    const replica = this.replica as DbPool
    const started = Date.now()
    this.lastCheck = started
    let primaryLsn: bigint
    try {
      // The primary first: its LSN then covers every write acknowledged before `started`.
      const p = await this.timed(
        this.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'),
      )
      primaryLsn = parseLsn(p.rows[0]?.lsn)
    } catch {
      // The primary is the one in trouble: nothing to learn about the replica now.
      return
    }
    this.samples.push({ at: started, lsn: primaryLsn })
    if (this.samples.length > MAX_SAMPLES) this.samples.splice(0, this.samples.length - MAX_SAMPLES)
    try {
      const r = await this.timed(
        replica.query<{ recovery: boolean; lsn: string | null; replay_ms: number | null }>(
          `SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn()::text AS lsn,
                  (extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::float8 AS replay_ms`,
        ),
      )
      const row = r.rows[0]
      this.up = true
      this.reason = undefined
      if (!row?.recovery) {
        // Not a standby: the read URL names a primary (the same server under another name).
        this.coveredUntil = started
      } else {
        const replayed = row.lsn ? parseLsn(row.lsn) : -1n
        // The newest sample the replica has replayed; older samples are of no further use.
        let i = this.samples.length - 1
        while (i >= 0 && (this.samples[i] as Sample).lsn > replayed) i--
        if (i >= 0) {
          const at = (this.samples[i] as Sample).at
          this.coveredUntil = Math.max(this.coveredUntil ?? at, at)
          this.samples.splice(0, i)
        } else if (this.coveredUntil === null && row.replay_ms !== null) {
          // Behind every sample of this process (just started): the commit time of the last replayed
          // transaction bounds what it has (an overestimate of the lag, so a safe one) until a sample
          // is replayed.
          this.coveredUntil = Math.min(row.replay_ms, (this.samples[0] as Sample).at)
        }
      }
      for (const [tenant, at] of this.writes) {
        if (this.coveredUntil !== null && at < this.coveredUntil) this.writes.delete(tenant)
      }
    } catch (err) {
      this.markDown(err)
    }
  }

  /** Stops routing to the replica until a check reaches it again. */
  markDown(err: unknown): void {
    this.up = false
    const code = (err as { code?: unknown })?.code
    this.reason =
      err instanceof CheckTimeout
        ? `no answer within ${this.options.checkTimeoutMs} ms`
        : isBehind(err)
          ? `behind the primary's schema${typeof code === 'string' ? ` (${code})` : ''}`
          : `unreachable${typeof code === 'string' && code ? ` (${code})` : ''}`
  }

  private timed<T>(p: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckTimeout()), this.options.checkTimeoutMs)
    })
    // A query that answers after the timeout must not become an unhandled rejection.
    p.catch(() => {})
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
  }
}

class CheckTimeout extends Error {}

/** '16/B374D848' → a comparable number. */
function parseLsn(text: string | undefined): bigint {
  const m = /^([0-9A-F]+)\/([0-9A-F]+)$/i.exec(text ?? '')
  if (!m) throw new Error(`not an LSN: ${text}`)
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`)
}

/** The replica cannot be used now: a connection failure, or a database it does not have (yet). */
function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return retryReason(err) !== null || code === SQLSTATE.INVALID_CATALOG_NAME
}

/**
 * The replica lacks an object the statement uses, or a privilege on it: it has not replayed a
 * migration the primary ran (a process that migrated and one that reads are often not the same, so
 * read-your-writes cannot see it). A migration creates its objects before it grants them, and the
 * runtime role is handed its grants after the last migration, so a replica stopped in between has
 * the schema but not the right to use it. Where the primary lacks the privilege too, it answers with
 * the same error.
 */
const BEHIND_CODES = new Set<string>([
  SQLSTATE.INVALID_SCHEMA_NAME,
  SQLSTATE.UNDEFINED_TABLE,
  SQLSTATE.UNDEFINED_FUNCTION,
  SQLSTATE.UNDEFINED_COLUMN,
  SQLSTATE.UNDEFINED_OBJECT,
  SQLSTATE.INSUFFICIENT_PRIVILEGE,
])
function isBehind(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code
  return typeof code === 'string' && BEHIND_CODES.has(code)
}

/**
 * A statement the primary should answer instead: any replica error but a statement timeout (the
 * primary would only time out as well, at twice the cost). A statement's own error (bad input) comes
 * back from the primary the same, so the caller sees the primary's verdict in every case.
 */
function fallsBack(err: unknown): boolean {
  return (err as { code?: unknown })?.code !== SQLSTATE.QUERY_CANCELED
}

/** One tenant's routed reads, as a pool. */
class RoutedPool implements DbPool {
  constructor(
    private readonly router: ReadRouter,
    private readonly tenant: string,
  ) {}

  async query<R = Record<string, unknown>>(query: SqlQuery | string): Promise<QueryResult<R>> {
    const { pool, replica } = await this.router.choose(this.tenant)
    if (!replica) return pool.query<R>(query)
    try {
      return await pool.query<R>(query)
    } catch (err) {
      if (!fallsBack(err)) throw err
      return this.router.replicaFailed(err).query<R>(query)
    }
  }

  /**
   * A connection for a transaction. Falls back when the replica cannot be reached; a failure inside
   * the transaction that the primary would not give (unreachable, or a migration not replayed yet)
   * marks the replica down and reaches the caller as a retryable error, whose retry then runs on the
   * primary.
   */
  async connect(): Promise<DbClient> {
    const { pool, replica } = await this.router.choose(this.tenant)
    if (!replica) return pool.connect()
    let client: DbClient
    try {
      client = await pool.connect()
    } catch (err) {
      return this.router.replicaFailed(err).connect()
    }
    const router = this.router
    return {
      async query<R = Record<string, unknown>>(q: SqlQuery | string): Promise<QueryResult<R>> {
        try {
          return await client.query<R>(q)
        } catch (err) {
          throw router.transactionFailed(err)
        }
      },
      release: (destroy?: boolean | Error) => client.release(destroy),
    }
  }

  /** The pools belong to the transport, which closes them. */
  async end(): Promise<void> {}
}
