// Error classification and retry with exponential backoff and full jitter, under a total time budget.
// Only failures of the connection are retried (the statement may not have run, or ran and its answer
// was lost); errors of the statement itself are final. Callers only retry idempotent work: every write
// of this store carries a client-made id and ON CONFLICT, so running it twice stores it once.
import type { RetryOptions } from '../config.js'
import { UnavailableError } from '../errors.js'
import { SQLSTATE } from './sqlstate.js'

const SOCKET_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
])

const RETRYABLE_SQLSTATES = new Set<string>([
  SQLSTATE.ADMIN_SHUTDOWN,
  SQLSTATE.CRASH_SHUTDOWN,
  SQLSTATE.CANNOT_CONNECT_NOW,
  SQLSTATE.TOO_MANY_CONNECTIONS,
  SQLSTATE.SERIALIZATION_FAILURE,
  SQLSTATE.DEADLOCK_DETECTED,
])

/** Messages of connection failures that carry no SQLSTATE (node-postgres, the Neon driver, PgBouncer). */
const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /connection timeout/i,
  /timeout exceeded when trying to connect/i,
  /client has encountered a connection error/i,
  /not queryable/i,
  /server closed the connection unexpectedly/i,
  /socket hang up/i,
  /websocket/i,
  /server conn crashed/i, // PgBouncer
  /no more connections allowed/i, // PgBouncer
  /query_wait_timeout/i, // PgBouncer
  /pgbouncer cannot connect to server/i,
]

/** Neon's proxy reports a compute it could not reach as XX000 with this in the message. */
const NEON_COMPUTE_UNREACHABLE =
  /couldn't connect to compute node|compute node.*(not|un)available|compute is waking/i

export function isRetryable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false
  const e = err as { code?: unknown; message?: unknown; cause?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  const message = typeof e.message === 'string' ? e.message : ''
  if (SOCKET_ERRORS.has(code)) return true
  if (RETRYABLE_SQLSTATES.has(code)) return true
  if (code.length === 5 && code.startsWith(SQLSTATE.CONNECTION_EXCEPTION_CLASS)) return true
  if (code === SQLSTATE.INTERNAL_ERROR) return NEON_COMPUTE_UNREACHABLE.test(message)
  if (code === '' || code.startsWith('E')) {
    if (CONNECTION_MESSAGES.some((re) => re.test(message))) return true
  }
  if (e.cause && e.cause !== err) return isRetryable(e.cause)
  return false
}

export interface RetryHooks {
  /** Called before each retry with the error that caused it. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void
}

/**
 * Runs `fn`, retrying connection failures until the budget is spent. `fn` gets the attempt number
 * (0 first). When the budget runs out the last error is wrapped in an UnavailableError (503).
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
      if (!isRetryable(err)) throw err
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt)
      const delay = Math.random() * ceiling // full jitter
      if (Date.now() - started + delay > options.budgetMs) {
        throw new UnavailableError(
          `the database could not be reached within ${options.budgetMs} ms (${describe(err)}); retry later`,
          { cause: err, retryAfterSeconds: 1 },
        )
      }
      hooks.onRetry?.(err, attempt + 1, delay)
      await new Promise((r) => setTimeout(r, delay))
    }
  }
}

/** A short description of an error without connection strings or other secrets. */
export function describe(err: unknown): string {
  const e = err as { code?: string; message?: string }
  const message = (e?.message ?? String(err)).replace(/postgres(ql)?:\/\/[^\s'"]+/gi, '<database url>')
  return e?.code ? `${e.code}: ${message}` : message
}
