// Limits the HTTP server puts on clients, with their defaults, and how `serve` reads them from the
// environment. docs/http.md ("Limits a client meets") and README's Security section list them.
import { ConfigError } from '../errors.js'

/** The heavy-request limit (concurrency.ts); here so the configuration's types need no Fastify. */
export interface HeavyLimitOptions {
  /** Heavy requests running at once. Default 8. */
  max?: number
  /** Heavy requests of one tenant running at once. Default half of max (at least 1). */
  perTenant?: number
  /** Longest a request waits for a slot before it is refused (ms). Default 2000. */
  queueMs?: number
  /** Requests of one tenant waiting at once; more are refused with 429 at once. Default 64. */
  queuePerTenant?: number
}

export interface ServerLimits {
  /**
   * Longest time to receive a whole request, headers and body (ms); then 408 and the connection is
   * closed. Default 30 s: a 1 MiB body at 35 KB/s. 0 turns it off.
   */
  requestTimeoutMs?: number
  /** Longest time to receive the request headers (ms). Default 10 s; at most requestTimeoutMs. */
  headersTimeoutMs?: number
  /** Open connections per client address; more are refused with 429. Default 64; 0: no cap. */
  maxConnectionsPerClient?: number
  /** Heavy requests in flight (history pages, lists, search, analytics). */
  heavy?: HeavyLimitOptions
}

export const SERVER_DEFAULTS = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  maxConnectionsPerClient: 64,
  heavyConcurrency: 8,
} as const

export interface ServeEnvOptions {
  limits: ServerLimits
  /** Bearer token /metrics requires (ROBOT_BRAIN_METRICS_TOKEN). */
  metricsToken?: string
  /** Serve /metrics on this port instead of the API port (ROBOT_BRAIN_METRICS_PORT). */
  metricsPort?: number
}

/** The timeouts with defaults filled in, checked against each other. */
export function resolveTimeouts(limits: ServerLimits = {}): {
  requestTimeoutMs: number
  headersTimeoutMs: number
  checkEveryMs: number
} {
  const requestTimeoutMs = limits.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs
  let headersTimeoutMs = limits.headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs
  if (requestTimeoutMs > 0) {
    if (limits.headersTimeoutMs !== undefined && headersTimeoutMs > requestTimeoutMs) {
      throw new ConfigError(
        `the headers timeout (${headersTimeoutMs} ms) must not exceed the request timeout (${requestTimeoutMs} ms)`,
      )
    }
    headersTimeoutMs = Math.min(headersTimeoutMs, requestTimeoutMs)
  }
  if (headersTimeoutMs === 0) headersTimeoutMs = SERVER_DEFAULTS.headersTimeoutMs
  // Node checks the timeouts on an interval (30 s by default): far too coarse for a 10 s bound.
  const shortest = Math.min(headersTimeoutMs, requestTimeoutMs || headersTimeoutMs)
  const checkEveryMs = Math.max(100, Math.min(1000, Math.floor(shortest / 4)))
  return { requestTimeoutMs, headersTimeoutMs, checkEveryMs }
}
