// Environment and options → one typed Config. Secrets stay inside: inspect() and JSON show redacted URLs.
import { runtimeRoleProblem } from './db/runtime-role.js'
import { deriveDirectUrl, isNeonPooledUrl, looksPooled, parseUrl, redactUrl } from './db/urls.js'
import { ConfigError } from './errors.js'
import { type Env, INSPECT_CUSTOM } from './portable-types.js'
import type { InteractionBufferOptions } from './store/interaction-buffer.js'

export type Driver = 'pglite' | 'pg' | 'neon'
export const DRIVERS: readonly Driver[] = ['pg', 'neon', 'pglite']

export interface RetryOptions {
  /** Total time budget for one operation including all retries (ms). */
  budgetMs: number
  /** First backoff ceiling (ms); doubles each attempt, full jitter. */
  baseDelayMs: number
  /** Largest single backoff (ms). */
  maxDelayMs: number
}

export interface GroupCommitOptions {
  enabled: boolean
  /** Most turns coalesced into one statement. */
  maxBatch: number
  /** How long a lone turn may wait for company (ms); 0 = only coalesce what is already queued. */
  lingerMs: number
}

export interface StoreOptions {
  /** Pooled or direct URL for the application's queries. Absent: embedded PGlite. */
  url?: string
  /** Direct URL for migrations and maintenance (Neon: DATABASE_URL_UNPOOLED). Derived when absent. */
  directUrl?: string
  /** Read replica URL: analytics, search and statistics read there when it is up and fresh. */
  readUrl?: string
  /** Reads leave the replica when it lags the primary by more than this (ms; default 10000). */
  readMaxLagMs?: number
  driver?: Driver
  /** Embedded data directory, or `memory://` for a throwaway database. */
  dataDir?: string
  /** Neon serverless driver: WebSocket proxy (`host:port/path`), and whether to use wss://. */
  neon?: { wsProxy?: string; secureWebSocket?: boolean }
  /** Largest number of connections per pool. */
  poolMax?: number
  connectTimeoutMs?: number
  /** Per-transaction statement timeout for application queries (ms). */
  statementTimeoutMs?: number
  retry?: Partial<RetryOptions>
  groupCommit?: Partial<GroupCommitOptions>
  /**
   * Role the application's queries run as (row-level security applies to it): one per database, since
   * roles are server-wide. Default: robot_brain_app_<database> (ROBOT_BRAIN_APP_ROLE).
   */
  runtimeRole?: string
  /**
   * Use protocol-level named prepared statements for the hot queries. Default: on, except through a
   * PgBouncer that is not Neon's (port 6432): PgBouncer before 1.21 cannot keep them in transaction mode.
   */
  preparedStatements?: boolean
  /**
   * Whether the app URL goes through a transaction-mode pooler (no session state: no SET ROLE, no
   * startup parameters). Default: guessed from the host (`-pooler`) or PgBouncer's port 6432.
   */
  pooled?: boolean
}

export interface Config {
  driver: Driver
  url?: string
  directUrl?: string
  readUrl?: string
  readMaxLagMs: number
  dataDir: string
  neon: { wsProxy?: string; secureWebSocket: boolean }
  poolMax: number
  connectTimeoutMs: number
  statementTimeoutMs: number
  retry: RetryOptions
  groupCommit: GroupCommitOptions
  /** The configured runtime role; undefined: robot_brain_app_<database>, known once connected. */
  runtimeRole?: string
  preparedStatements: boolean
  pooled: boolean
}

export const DEFAULT_DATA_DIR = './.robot-brain/data'

function envUrl(env: Env, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = env[name]?.trim()
    if (v) return v
  }
  return undefined
}

function envInt(env: Env, name: string): number | undefined {
  const v = env[name]?.trim()
  if (!v) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError(`${name} must be a non-negative integer, got "${v}"`)
  return n
}

/** Options from the environment, as README and DESIGN name them. */
export function optionsFromEnv(env: Env = process.env): StoreOptions {
  const driver = env.DATABASE_DRIVER?.trim()
  if (driver && driver !== 'pg' && driver !== 'neon' && driver !== 'pglite') {
    throw new ConfigError(`DATABASE_DRIVER must be "pg" or "neon", got "${driver}"`)
  }
  const secure = env.NEON_WS_SECURE?.trim()
  const prepared = env.DATABASE_PREPARED_STATEMENTS?.trim()
  const pooled = env.DATABASE_POOLED?.trim()
  return {
    url: envUrl(env, 'DATABASE_URL', 'NEON_DATABASE_URL'),
    directUrl: envUrl(env, 'DATABASE_URL_UNPOOLED'),
    readUrl: envUrl(env, 'DATABASE_READ_URL'),
    readMaxLagMs: envInt(env, 'DATABASE_READ_MAX_LAG_MS'),
    driver: (driver as Driver | undefined) || undefined,
    dataDir: env.ROBOT_BRAIN_DATA_DIR?.trim() || undefined,
    neon: {
      wsProxy: env.NEON_WS_PROXY?.trim() || undefined,
      secureWebSocket: secure ? secure !== 'false' && secure !== '0' : undefined,
    },
    poolMax: envInt(env, 'DATABASE_POOL_MAX'),
    connectTimeoutMs: envInt(env, 'DATABASE_CONNECT_TIMEOUT_MS'),
    statementTimeoutMs: envInt(env, 'DATABASE_STATEMENT_TIMEOUT_MS'),
    retry: {
      budgetMs: envInt(env, 'DATABASE_RETRY_BUDGET_MS'),
      baseDelayMs: envInt(env, 'DATABASE_RETRY_BASE_DELAY_MS'),
      maxDelayMs: envInt(env, 'DATABASE_RETRY_MAX_DELAY_MS'),
    },
    preparedStatements: prepared ? prepared !== 'false' && prepared !== '0' : undefined,
    pooled: pooled ? pooled !== 'false' && pooled !== '0' : undefined,
    runtimeRole: env.ROBOT_BRAIN_APP_ROLE?.trim() || undefined,
  }
}

/** The keys whose value is not undefined: an unset option must not hide its default. */
function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>
}

export function resolveConfig(options: StoreOptions = {}): Config {
  const url = options.url
  if (options.driver !== undefined && !DRIVERS.includes(options.driver)) {
    throw new ConfigError(`driver must be one of ${DRIVERS.join(', ')}, got "${String(options.driver)}"`)
  }
  const driver: Driver = url
    ? options.driver && options.driver !== 'pglite'
      ? options.driver
      : 'pg'
    : 'pglite'
  if (!url && options.driver && options.driver !== 'pglite') {
    throw new ConfigError(`driver "${options.driver}" needs a database URL (DATABASE_URL)`)
  }
  for (const [name, value] of [
    ['url', url],
    ['directUrl', options.directUrl],
    ['readUrl', options.readUrl],
  ] as const) {
    if (value) {
      try {
        parseUrl(value)
      } catch (e) {
        throw new ConfigError(`${name}: ${(e as Error).message}`)
      }
    }
  }
  const pooled = options.pooled ?? (url ? looksPooled(url) : false)
  const config: Config = {
    driver,
    url,
    directUrl: url ? (options.directUrl ?? deriveDirectUrl(url)) : undefined,
    readUrl: options.readUrl,
    readMaxLagMs: options.readMaxLagMs ?? 10_000,
    dataDir: options.dataDir ?? DEFAULT_DATA_DIR,
    neon: { wsProxy: options.neon?.wsProxy, secureWebSocket: options.neon?.secureWebSocket ?? true },
    poolMax: options.poolMax ?? 10,
    connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
    statementTimeoutMs: options.statementTimeoutMs ?? 30_000,
    retry: { budgetMs: 20_000, baseDelayMs: 100, maxDelayMs: 2_000, ...definedOnly(options.retry) },
    // On for every driver: PGlite's single connection gains the most from coalescing (bench/).
    groupCommit: { enabled: true, maxBatch: 64, lingerMs: 0, ...options.groupCommit },
    runtimeRole: options.runtimeRole,
    preparedStatements: options.preparedStatements ?? !(url && pooled && !isNeonPooledUrl(url)),
    pooled,
  }
  if (!Number.isInteger(config.readMaxLagMs) || config.readMaxLagMs < 0) {
    throw new ConfigError('readMaxLagMs must be a non-negative integer (milliseconds)')
  }
  const roleProblem = config.runtimeRole === undefined ? null : runtimeRoleProblem(config.runtimeRole)
  if (roleProblem) throw new ConfigError(`runtimeRole (ROBOT_BRAIN_APP_ROLE) ${roleProblem}`)
  return hideSecrets(config)
}

/** The config as it may be shown: URLs with passwords replaced. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    url: config.url && redactUrl(config.url),
    directUrl: config.directUrl && redactUrl(config.directUrl),
    readUrl: config.readUrl && redactUrl(config.readUrl),
  }
}

function hideSecrets(config: Config): Config {
  Object.defineProperties(config, {
    [INSPECT_CUSTOM]: { value: () => redactedConfig(config), enumerable: false },
    toJSON: { value: () => redactedConfig(config), enumerable: false },
  })
  return config
}

/**
 * Buffer options from the environment (for `serve`): ROBOT_BRAIN_INTERACTION_BATCH (maxBatch),
 * ROBOT_BRAIN_INTERACTION_FLUSH_MS (flushDelayMs), ROBOT_BRAIN_INTERACTION_BUFFER_MAX (maxPending).
 */
export function interactionBufferOptionsFromEnv(env: Env = process.env): InteractionBufferOptions {
  const read = (name: string): number | undefined => {
    const raw = env[name]?.trim()
    if (!raw) return undefined
    if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`)
    return Number(raw)
  }
  return {
    maxBatch: read('ROBOT_BRAIN_INTERACTION_BATCH'),
    flushDelayMs: read('ROBOT_BRAIN_INTERACTION_FLUSH_MS'),
    maxPending: read('ROBOT_BRAIN_INTERACTION_BUFFER_MAX'),
  }
}
