// TCP transport: node-postgres, for any PostgreSQL 15+ and Neon's pooled or direct endpoints.
import pg from 'pg'
import type { Config } from '../config.js'
import type { DbPool, Transport } from './pool.js'
import { RolePool, type RoleState } from './role-pool.js'
import { looksPooled, pgUrlOptions } from './urls.js'

export function pgPool(url: string, config: Config, max = config.poolMax): pg.Pool {
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
  })
  // A connection dropped while idle (compute suspended, server restarted) must not crash the process:
  // the pool discards it and the next checkout opens a new one.
  pool.on('error', () => {})
  return pool
}

export function openPg(config: Config, runtimeRole: () => string | null): Transport {
  const url = config.url as string
  const directUrl = config.directUrl ?? url
  const appInner = pgPool(url, config)
  const ownerInner = directUrl === url ? appInner : pgPool(directUrl, config, 2)
  const readInner = config.readUrl ? pgPool(config.readUrl, config) : undefined
  return rolePools('pg', url, appInner, ownerInner, readInner, runtimeRole, config.preparedStatements)
}

/** Wraps raw pools so the app and read pools act as the runtime role, the owner pool as itself. */
export function rolePools(
  driver: Transport['driver'],
  url: string,
  appInner: unknown,
  ownerInner: unknown,
  readInner: unknown,
  runtimeRole: () => string | null,
  preparedStatements: boolean,
): Transport {
  const pooled = looksPooled(url)
  // Through a transaction-mode pooler a session SET ROLE would leak to other clients: never switch there.
  const appRole = pooled ? () => null : runtimeRole
  const state: RoleState = new WeakMap() // shared: app and owner may share physical connections
  const app = new RolePool(appInner as DbPool, appRole, state, preparedStatements)
  const owner = new RolePool(ownerInner as DbPool, () => null, state)
  const read = readInner
    ? new RolePool(readInner as DbPool, runtimeRole, new WeakMap(), preparedStatements)
    : app
  return transport(driver, app, owner, read, pooled, [appInner, ownerInner, readInner] as DbPool[])
}

export function transport(
  driver: Transport['driver'],
  app: DbPool,
  owner: DbPool,
  read: DbPool,
  pooled: boolean,
  pools: Array<{ end(): Promise<void> } | undefined>,
): Transport {
  let closing: Promise<void> | undefined
  return {
    driver,
    app,
    owner,
    read,
    pooled,
    close() {
      closing ??= Promise.all([...new Set(pools)].map((p) => p?.end())).then(() => undefined)
      return closing
    },
  }
}
