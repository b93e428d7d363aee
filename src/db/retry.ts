// Error classification and retry with exponential backoff and full jitter, under a total time budget.
//
// Only failures of the connection are retried: the statement may not have run, or it ran and its
// answer was lost on the way back. Errors of the statement itself (bad input, constraint, permission,
// statement_timeout) are final: running it again would fail the same way. Callers only retry
// idempotent work: every write of this store carries a client-made id and ON CONFLICT, so a write
// that committed before its connection dropped is stored once when it runs again.
import type { RetryOptions } from '../config.js'
import { ConfigError, UnavailableError } from '../errors.js'
import { SQLSTATE } from './sqlstate.js'

/** Why an error is worth another attempt; null when it is not. Also a metrics label. */
export type RetryReason =
  | 'socket' // the TCP/WebSocket connection failed or was reset
  | 'connection' // SQLSTATE class 08, or a driver message saying the connection ended
  | 'server_shutdown' // 57P01-57P03, 57P05, 25P03: the server closed or refused the session
  | 'too_many_connections' // 53300: refused at connect, nothing ran
  | 'compute_unreachable' // Neon's proxy: XX000 "Couldn't connect to compute node" while it wakes
  | 'transaction_conflict' // 40001, 40P01: the server rolled the statement back; it had no effect
  | 'replica_behind' // a read replica lacked an object the primary has: the read runs again, on the primary

/** Socket error codes of Node.js (net, dns, the ws package). */
const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ECONNABORTED',
  'ENOTCONN',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
])

const SERVER_SHUTDOWN = new Set<string>([
  SQLSTATE.ADMIN_SHUTDOWN,
  SQLSTATE.CRASH_SHUTDOWN,
  SQLSTATE.CANNOT_CONNECT_NOW,
  SQLSTATE.IDLE_SESSION_TIMEOUT,
  SQLSTATE.IDLE_IN_TRANSACTION_TIMEOUT,
])

const TRANSACTION_CONFLICT = new Set<string>([SQLSTATE.SERIALIZATION_FAILURE, SQLSTATE.DEADLOCK_DETECTED])

/**
 * Messages of connection failures that carry no SQLSTATE: node-postgres, the Neon driver (which
 * embeds node-postgres) and PgBouncer's own errors. Each names the connection, never a statement.
 */
const CONNECTION_MESSAGES = [
  /connection terminated/i, // node-postgres: "Connection terminated unexpectedly", "... due to connection timeout"
  /connection timeout/i,
  /timeout exceeded when trying to connect/i, // pg-pool connectionTimeoutMillis
  /client has encountered a connection error/i,
  /not queryable/i,
  /server closed the connection unexpectedly/i,
  /socket hang up/i,
  /websocket (connection|closed|error|was closed)/i, // the Neon driver's socket
  /unexpected server response/i, // ws: the proxy answered the upgrade with an HTTP error (waking)
  /server conn crashed/i, // PgBouncer
  /no more connections allowed/i, // PgBouncer max_client_conn
  /query_wait_timeout/i, // PgBouncer: no server connection within the queue timeout
  /pgbouncer cannot connect to server/i,
  /server login has been failing/i, // PgBouncer while PostgreSQL restarts
  /database is shutting down|the database system is (starting up|shutting down|in recovery mode)/i,
]

/** Neon's proxy reports a compute it could not reach as XX000 with this in the message. */
const NEON_COMPUTE_UNREACHABLE =
  /couldn't connect to compute node|could not connect to compute|compute node.*(not|un)available|compute is waking|endpoint is (disabled|suspended)/i

/** PgBouncer refusing a startup parameter (08P01): a configuration error, the same on every attempt. */
export const UNSUPPORTED_STARTUP_PARAMETER = /unsupported startup parameter/i

/** PgBouncer's login refusals (08P01, where PostgreSQL says 28P01/28000): retrying cannot help. */
const POOLER_LOGIN_REFUSED = /authentication failed|no such user/i

interface ErrorLike {
  code?: unknown
  message?: unknown
  cause?: unknown
  errors?: unknown
  /** ErrorEvent of a WebSocket: the underlying socket error. */
  error?: unknown
}

/**
 * A read transaction on the replica failed because the replica has not replayed a migration yet (a
 * schema, table or function the primary has). The router stopped using the replica when it threw this;
 * the read, run again, goes to the primary. The replica's own error is the cause.
 */
export class ReplicaBehindError extends Error {
  constructor(cause: unknown) {
    super('the read replica has not replayed the latest migration yet; reading from the primary', { cause })
    this.name = 'ReplicaBehindError'
  }
}

/** The reason to retry `err`, or null when it is an error of the statement (or not an error at all). */
export function retryReason(err: unknown, depth = 0): RetryReason | null {
  if (!err || typeof err !== 'object' || depth > 5) return null
  // Already retried to the end of its budget: retrying again would multiply the wait.
  if (err instanceof UnavailableError) return null
  // A configuration that cannot work (e.g. startup parameters sent to a pooler) fails the same way
  // every time: say so at once rather than after the whole budget.
  if (err instanceof ConfigError) return null
  if (err instanceof ReplicaBehindError) return 'replica_behind'
  const e = err as ErrorLike
  const code = typeof e.code === 'string' ? e.code : ''
  const message = typeof e.message === 'string' ? e.message : ''
  if (SOCKET_ERRORS.has(code)) return 'socket'
  if (SERVER_SHUTDOWN.has(code)) return 'server_shutdown'
  if (code === SQLSTATE.TOO_MANY_CONNECTIONS) return 'too_many_connections'
  if (TRANSACTION_CONFLICT.has(code)) return 'transaction_conflict'
  if (
    code === SQLSTATE.PROTOCOL_VIOLATION &&
    (UNSUPPORTED_STARTUP_PARAMETER.test(message) || POOLER_LOGIN_REFUSED.test(message))
  )
    return null
  if (code.length === 5 && code.startsWith(SQLSTATE.CONNECTION_EXCEPTION_CLASS)) return 'connection'
  if (code === SQLSTATE.INTERNAL_ERROR) {
    return NEON_COMPUTE_UNREACHABLE.test(message) ? 'compute_unreachable' : null
  }
  // Any other SQLSTATE is the statement's own error: final, whatever its message says.
  const isSqlState = /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('E')
  if (isSqlState) return null
  if (CONNECTION_MESSAGES.some((re) => re.test(message))) return 'connection'
  if (NEON_COMPUTE_UNREACHABLE.test(message)) return 'compute_unreachable'
  // Node wraps happy-eyeballs failures (several addresses tried) in an AggregateError.
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const r = retryReason(inner, depth + 1)
      if (r) return r
    }
  }
  if (e.cause && e.cause !== err) return retryReason(e.cause, depth + 1)
  // A WebSocket ErrorEvent (the Neon driver's socket) holds the socket's Error in `error`.
  if (e.error && e.error !== err) return retryReason(e.error, depth + 1)
  return null
}

export function isRetryable(err: unknown): boolean {
  return retryReason(err) !== null
}

/**
 * For a delete retried by withRetry: whether a row is gone because of this call. True when this attempt
 * deleted it, or when an earlier attempt failed in a way that may have committed (a connection lost
 * mid-statement loses only the acknowledgement). A conflict (deadlock, serialization failure) or a
 * refused connection rolled back or never began: a row found absent after one of those was deleted by
 * someone else, and that caller is told so.
 */
export function deleteAttempts(remove: () => Promise<boolean>): (attempt: number) => Promise<boolean> {
  let mayHaveCommitted = false
  return async () => {
    try {
      return (await remove()) || mayHaveCommitted
    } catch (err) {
      const reason = retryReason(err)
      if (reason && reason !== 'transaction_conflict' && reason !== 'too_many_connections') {
        mayHaveCommitted = true
      }
      throw err
    }
  }
}

export interface RetryHooks {
  /** Called before each retry with the error that caused it. */
  onRetry?: (err: unknown, attempt: number, delayMs: number, reason: RetryReason) => void
  /** Called when the budget is spent and the operation fails with an UnavailableError. */
  onGiveUp?: (err: unknown, attempts: number, elapsedMs: number) => void
}

/**
 * The wait before retry number `attempt + 1`: exponential backoff with full jitter, i.e. uniform in
 * [0, min(maxDelay, base * 2^attempt)). Full jitter spreads a crowd of clients that lost their
 * connections at the same instant (a compute suspended, a server restarted) instead of sending them
 * back in waves.
 */
export function backoffDelay(
  attempt: number,
  options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.min(attempt, 30))
  return Math.floor(random() * ceiling)
}

/**
 * Runs `fn`, retrying connection failures until the budget is spent. `fn` gets the attempt number
 * (0 first). When the budget runs out the last error is wrapped in an UnavailableError (503, safe to
 * retry later); errors of the statement are rethrown at once, unchanged.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
  hooks: RetryHooks = {},
): Promise<T> {
  const started = Date.now()
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (err) {
      const reason = retryReason(err)
      if (!reason) throw err
      const delay = backoffDelay(attempt, options)
      const elapsed = Date.now() - started
      if (elapsed + delay > options.budgetMs) {
        hooks.onGiveUp?.(err, attempt + 1, elapsed)
        throw new UnavailableError(
          `the database could not be reached within ${options.budgetMs} ms (${describe(err)}); retry later`,
          { cause: err, retryAfterSeconds: Math.max(1, Math.ceil(options.maxDelayMs / 1000)) },
        )
      }
      hooks.onRetry?.(err, attempt + 1, delay, reason)
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

/** A short description of an error without connection strings or other secrets. */
export function describe(err: unknown): string {
  const e = err as { code?: string; message?: string }
  const message = (e?.message ?? String(err))
    .replace(/postgres(ql)?:\/\/[^\s'"]+/gi, '<database url>')
    .replace(/password[=:]\s*\S+/gi, 'password=***')
  return e?.code ? `${e.code}: ${message}` : message
}
