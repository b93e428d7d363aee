// A transport over pools the application already holds: openStore({ pool, readPool }) with its own
// pg.Pool or @neondatabase/serverless Pool, as kysely and drizzle take one. The store shares those
// pools with the application, so it never changes the session state of their connections (no SET ROLE:
// the pool's login role must be a member of the runtime role, as through a pooler) and never ends
// them: close() ends only the owner pool it opened itself for a `directUrl`.
import type { Config } from '../config.js'
import { ConfigError } from '../errors.js'
import type { DbPool, Transport } from './pool.js'
import { RolePool, type RoleState } from './role-pool.js'
import { guardPoolErrors, type MakePool, type PoolErrorListener, transport } from './server-transport.js'

/**
 * What openStore needs of a caller's pool: node-postgres' Pool interface (the Neon driver's too); its
 * 'error' and 'connect' events are watched while the store is open, when it has them.
 */
export interface CallerPool {
  connect(): Promise<unknown>
  query(...args: never[]): unknown
  end(): Promise<void>
  /** node-postgres keeps its constructor options here: the connection string, or its parts. */
  options?: {
    connectionString?: string
    host?: string
    port?: number
    user?: string
    database?: string
  }
}

/**
 * The URL a caller's pool connects to, without its password: the store reads from it whether a
 * pooler is in the way (port 6432, a `-pooler` host), never to connect.
 */
export function callerPoolUrl(pool: CallerPool, field: string): string {
  const o = pool.options ?? {}
  if (o.connectionString) {
    const u = new URL(o.connectionString)
    u.password = ''
    return u.toString()
  }
  if (o.host && !o.host.startsWith('/')) {
    const user = o.user ? `${encodeURIComponent(o.user)}@` : ''
    return `postgres://${user}${o.host}:${o.port ?? 5432}/${encodeURIComponent(o.database ?? '')}`
  }
  throw new ConfigError(
    `${field}: cannot tell where this pool connects (no connectionString or host in its options); pass url as well`,
  )
}

export function callerTransport(
  driver: 'pg' | 'neon',
  config: Config,
  pools: { pool: CallerPool; readPool?: CallerPool; directUrl?: string },
  makePool: MakePool,
  onPoolError: PoolErrorListener,
): Transport {
  const never = () => null // the caller's connections keep their login role
  const state: RoleState = new WeakMap()
  const { preparedStatements } = config
  const guard = (pool: CallerPool | undefined, which: 'app' | 'read') =>
    pool && typeof (pool as { on?: unknown }).on === 'function'
      ? guardPoolErrors(pool as never, (err) => onPoolError(err, which))
      : () => {}
  const unguard = [guard(pools.pool, 'app'), guard(pools.readPool, 'read')]
  const app = new RolePool(pools.pool as unknown as DbPool, never, state, preparedStatements)
  // Migrations and maintenance on the owner's direct URL when given (a pool of ours, ended by close());
  // otherwise on the caller's pool, whose login must then own the schema.
  const ownerInner = pools.directUrl
    ? (makePool(pools.directUrl, 2, 0, undefined, (err) => onPoolError(err, 'owner')) as DbPool)
    : undefined
  const owner = ownerInner ? new RolePool(ownerInner, never, new WeakMap()) : app
  const read = pools.readPool
    ? new RolePool(pools.readPool as unknown as DbPool, never, new WeakMap(), preparedStatements)
    : app
  const inner = transport(driver, app, owner, read, config.pooled, ownerInner ? [ownerInner] : [])
  return {
    ...inner,
    callerPool: true,
    close: async () => {
      for (const stop of unguard) stop()
      await inner.close()
    },
  }
}
