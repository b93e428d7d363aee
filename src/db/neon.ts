// Serverless transport: @neondatabase/serverless Pool over WebSocket, for edge and serverless functions.
// The WebSocket proxy and plain ws:// are configurable so tests reach a local PostgreSQL through a
// local WebSocket-to-TCP proxy, the way the driver reaches Neon's proxy.
import { neonConfig, Pool } from '@neondatabase/serverless'
import ws from 'ws'
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
import { normalizeWebSocketErrors } from './websocket-errors.js'

function neonPool(
  url: string,
  config: Config,
  max = config.poolMax,
  statementTimeoutMs = 0,
  options?: string,
  report?: (err: Error) => void,
): Pool {
  const { connectionString } = pgUrlOptions(url)
  const pool = new Pool({
    connectionString,
    max,
    connectionTimeoutMillis: config.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs } : {}),
    ...(options ? { options } : {}),
  })
  // A connection dropped on suspend, idle or checked out, must not crash the process.
  guardPoolErrors(pool, report)
  // A refused or failed WebSocket rejects with an ErrorEvent, not an Error: make it one that keeps the
  // socket's code, so it is retried like a TCP socket error and ends, at worst, as UnavailableError.
  // Inside: connect failures name the host and port tried (see connect-errors.ts).
  return normalizeWebSocketErrors(explainConnectErrors(pool, url))
}

/** Points the driver at the configured WebSocket proxy (global to the driver, as it is built). */
function configureNeon(config: Config): void {
  // Node.js 20 has no global WebSocket.
  neonConfig.webSocketConstructor = ws
  if (config.neon.wsProxy) {
    const proxy = config.neon.wsProxy
    neonConfig.wsProxy = (host, port) => `${proxy}${proxy.includes('?') ? '&' : '?'}address=${host}:${port}`
  }
  if (!config.neon.secureWebSocket) {
    // Plain ws:// to a local proxy: no TLS inside the socket either, and no pipelined password
    // (a local server may use trust authentication).
    neonConfig.useSecureWebSocket = false
    neonConfig.pipelineTLS = false
    neonConfig.pipelineConnect = false
  }
}

/** Pools of this driver for the shared transport builders (configures the driver first). */
export function neonPoolMaker(config: Config): MakePool {
  configureNeon(config)
  return (url, max, timeoutMs, options, report) => neonPool(url, config, max, timeoutMs, options, report)
}

export function openNeon(
  config: Config,
  runtimeRole: () => string | null,
  onPoolError?: PoolErrorListener,
): Transport {
  return serverTransport('neon', config, runtimeRole, neonPoolMaker(config), onPoolError)
}
