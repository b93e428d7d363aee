// Errors of opening a connection, made to say where: the host and port tried and the login role
// (never the password). A driver's "password authentication failed" or "Connection terminated due to
// connection timeout" alone does not tell which of three URLs was wrong.
//
// One refusal is a configuration error rather than a failure to retry: PgBouncer answers a startup
// parameter it does not know (statement_timeout, options) with 08P01 "unsupported startup parameter".
// The store sends those only where it believes the connection is direct, so the URL goes through a
// pooler it did not recognise (it knows a Neon `-pooler` host and PgBouncer's port 6432).
import { ConfigError } from '../errors.js'
import { UNSUPPORTED_STARTUP_PARAMETER } from './retry.js'
import { SQLSTATE } from './sqlstate.js'

/** `host:port` and the login role of a URL, for messages. */
export function endpointOf(url: string): { endpoint: string; user: string } {
  try {
    const u = new URL(url)
    const socket = u.searchParams.get('host')
    const host = socket ?? (u.hostname || 'localhost')
    return {
      endpoint: `${host}:${u.port || u.searchParams.get('port') || '5432'}`,
      user: decodeURIComponent(u.username),
    }
  } catch {
    return { endpoint: '<unparsable database URL>', user: '' }
  }
}

export const POOLER_FIX =
  "set DATABASE_POOLED=true (the store then sends no startup parameters), and give migrations the server's direct URL in DATABASE_URL_UNPOOLED"

/** The ConfigError for a pooler that refused startup parameters, or null for any other error. */
export function unsupportedStartupParameter(err: unknown, url: string): ConfigError | null {
  const e = err as { code?: unknown; message?: unknown }
  if (e?.code !== SQLSTATE.PROTOCOL_VIOLATION || typeof e.message !== 'string') return null
  if (!UNSUPPORTED_STARTUP_PARAMETER.test(e.message)) return null
  const param = /unsupported startup parameter:?\s*"?([a-z_]+)/i.exec(e.message)?.[1] ?? 'a startup parameter'
  const { endpoint } = endpointOf(url)
  return new ConfigError(
    `${endpoint} refused the startup parameter ${param} (${e.message}, SQLSTATE 08P01): it is a ` +
      'transaction-mode pooler (PgBouncer) the store took for a direct server, as it is neither a Neon ' +
      `-pooler host nor on port 6432. Fix: ${POOLER_FIX}`,
    { cause: err },
  )
}

/** The error a failed connect should raise: a ConfigError, or the same error naming where it went. */
export function explainConnectError(err: unknown, url: string): unknown {
  const config = unsupportedStartupParameter(err, url)
  if (config) return config
  if (!(err instanceof Error)) return err
  const { endpoint, user } = endpointOf(url)
  const where = `(connecting to ${endpoint}${user ? ` as "${user}"` : ''})`
  // The same object, so its code and cause (and with them the retry classification) are kept.
  if (!err.message.includes(where)) err.message = `${err.message} ${where}`
  return err
}

type ConnectCallback = (err: Error | undefined, client: unknown, done: unknown) => void

interface ConnectablePool {
  connect(callback?: ConnectCallback): Promise<unknown> | undefined
}

/**
 * Makes every failed connect of `pool` (pg.Pool or the Neon driver's Pool) say where it tried.
 * pg-pool's own query() goes through connect() with a callback, so both forms are covered.
 */
export function explainConnectErrors<P extends ConnectablePool>(pool: P, url: string): P {
  const connect = pool.connect.bind(pool)
  pool.connect = ((callback?: ConnectCallback) => {
    if (callback) {
      return connect((err, client, done) =>
        callback(err ? (explainConnectError(err, url) as Error) : undefined, client, done),
      )
    }
    return (connect() as Promise<unknown>).catch((err: unknown) => {
      throw explainConnectError(err, url)
    })
  }) as P['connect']
  return pool
}
