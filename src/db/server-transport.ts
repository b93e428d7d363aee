// The shared builder of server transports (node-postgres over TCP in pg.ts, the Neon serverless
// driver in neon.ts): the app, owner and read pools, their startup settings, and the guard that keeps
// a dropped connection from ending the process. Neither driver module imports the other.
import type { Config } from '../config.js'
import type { DbPool, Transport } from './pool.js'
import { RolePool, type RoleState } from './role-pool.js'
import { looksPooled } from './urls.js'

/** Told of each connection a pool lost (the pool discards it; the next checkout opens another). */
export type PoolErrorListener = (err: Error, pool: 'app' | 'owner' | 'read') => void

/**
 * A connection dropped while idle (compute suspended, server restarted) must not crash the process:
 * the pool discards it and the next checkout opens a new one. node-postgres also emits 'error' on a
 * checked-out client whose socket fails (the running query is rejected as well), and pg-pool takes
 * its own listener off while a client is checked out: without one of ours that event would be
 * unhandled and end the process. Not swallowed: each one is reported once, from the client (an idle
 * client's error also reaches the pool's 'error', which therefore only keeps the process alive).
 * Works for pg.Pool and the Neon driver's Pool (the same pg-pool).
 */
export function guardPoolErrors(
  pool: {
    on(event: 'error', listener: (err: Error) => void): unknown
    on(
      event: 'connect',
      listener: (client: { on(e: 'error', l: (err: Error) => void): unknown }) => void,
    ): unknown
  },
  report: (err: Error) => void = () => {},
): () => void {
  const keepAlive = () => {}
  const watch = (client: { on(e: 'error', l: (err: Error) => void): unknown }) =>
    client.on('error', (err) => report(err))
  pool.on('error', keepAlive)
  pool.on('connect', watch)
  // Takes the pool's listeners off again (a caller's pool outlives the store).
  return () => {
    const p = pool as unknown as { removeListener?(e: string, l: (...a: never[]) => void): unknown }
    p.removeListener?.('error', keepAlive)
    p.removeListener?.('connect', watch)
  }
}

/**
 * The statement_timeout an application pool sets as a startup parameter. Only on a direct
 * connection: a transaction-mode pooler refuses or drops startup parameters (Neon's pooler, PgBouncer
 * without ignore_startup_parameters), so there the login role's server-side default applies instead
 * (set by migrate, see statement-timeout.ts).
 */
export function sessionStatementTimeout(url: string, config: Config): number {
  return isPooled(url, config) ? 0 : config.statementTimeoutMs
}

/**
 * Startup options of an application pool on a direct connection. The hot statements are named
 * (prepared) and run the same way millions of times: left to choose, the plan cache keeps planning
 * them per call (a custom plan looks cheaper for the given session), which with a dozen monthly
 * partitions costs more than the query. The generic plan is as good for them: one index descent per
 * partition under a merge. JIT off: a generic plan knows no tenant, so on a table shared by tenants of
 * very different sizes its estimate can pass jit_above_cost, and compiling took about 0.9 s for an
 * analytics answer that runs in 20 ms (measured at 10M events). Through a pooler startup options are
 * refused, and there is nothing to set.
 */
export function appSessionOptions(url: string, config: Config): string | undefined {
  return isPooled(url, config) ? undefined : '-c plan_cache_mode=force_generic_plan -c jit=off'
}

/** The app URL is pooled as configured (DATABASE_POOLED, or guessed from the host); others by their host. */
export function isPooled(url: string, config: Config): boolean {
  return url === config.url ? config.pooled : looksPooled(url)
}

/**
 * How a server transport makes one raw pool: URL, size, statement timeout (0: none), startup options,
 * and where to report the connections it loses.
 */
export type MakePool = (
  url: string,
  max: number,
  statementTimeoutMs: number,
  options: string | undefined,
  report: (err: Error) => void,
) => unknown

/** The app, owner and read pools of a server transport (pg or Neon), wrapped for roles. */
export function serverTransport(
  driver: Transport['driver'],
  config: Config,
  runtimeRole: () => string | null,
  makePool: MakePool,
  onPoolError: PoolErrorListener = () => {},
): Transport {
  const url = config.url as string
  const directUrl = config.directUrl ?? url
  const report = (pool: 'app' | 'owner' | 'read') => (err: Error) => onPoolError(err, pool)
  const appPool = (u: string, pool: 'app' | 'read') =>
    makePool(
      u,
      config.poolMax,
      sessionStatementTimeout(u, config),
      appSessionOptions(u, config),
      report(pool),
    )
  const appInner = appPool(url, 'app')
  // Migrations and maintenance may run longer than a request may: the owner never shares the app's
  // timed-out sessions.
  const ownerInner =
    directUrl === url && sessionStatementTimeout(url, config) === 0
      ? appInner
      : makePool(directUrl, 2, 0, undefined, report('owner'))
  const readInner = config.readUrl ? appPool(config.readUrl, 'read') : undefined
  return rolePools(driver, config, appInner, ownerInner, readInner, runtimeRole)
}

/** Wraps raw pools so the app and read pools act as the runtime role, the owner pool as itself. */
export function rolePools(
  driver: Transport['driver'],
  config: Config,
  appInner: unknown,
  ownerInner: unknown,
  readInner: unknown,
  runtimeRole: () => string | null,
): Transport {
  const { pooled, preparedStatements } = config
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
