// TCP transport: node-postgres, for any PostgreSQL 15+ and Neon's pooled or direct endpoints.
import pg from 'pg'
import type { Config } from '../config.js'
import { explainConnectErrors } from './connect-errors.js'
import type { Transport } from './pool.js'
import {
  guardPoolErrors,
  type MakePool,
  type PoolErrorListener,
  serverTransport,
} from './server-transport.js'
import { pgUrlOptions } from './urls.js'

export function pgPool(
  url: string,
  config: Config,
  max = config.poolMax,
  statementTimeoutMs = 0,
  options?: string,
  report?: (err: Error) => void,
): pg.Pool {
  const { connectionString, enableChannelBinding } = pgUrlOptions(url)
  const pool = new pg.Pool({
    connectionString,
    enableChannelBinding,
    max,
    connectionTimeoutMillis: config.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // Keep idle sockets alive through NAT and proxies; a dead one is noticed sooner.
    keepAlive: true,
    application_name: 'robot-brain-db',
    // A startup parameter: the session default, set without a round trip (see sessionStatementTimeout).
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    ...(options ? { options } : {}),
  })
  guardPoolErrors(pool, report)
  return explainConnectErrors(pool, url)
}

/** Pools of this driver for the shared transport builders. */
export function pgPoolMaker(config: Config): MakePool {
  return (url, max, timeoutMs, options, report) => pgPool(url, config, max, timeoutMs, options, report)
}

export function openPg(
  config: Config,
  runtimeRole: () => string | null,
  onPoolError?: PoolErrorListener,
): Transport {
  return serverTransport('pg', config, runtimeRole, pgPoolMaker(config), onPoolError)
}
