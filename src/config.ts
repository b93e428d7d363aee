// Environment and options → one typed Config. Secrets stay inside: inspect() and JSON show redacted URLs.
import { runtimeRoleProblem } from './db/runtime-role.js'
import { deriveDirectUrl, isNeonPooledUrl, looksPooled, parseUrl, redactUrl } from './db/urls.js'
import { ConfigError } from './errors.js'
import { type Env, INSPECT_CUSTOM } from './portable-types.js'
import { resolveTimeouts, type ServeEnvOptions, type ServerLimits } from './server/options.js'
import type { RateLimitOptions } from './server/protection-options.js'
import type { InteractionBufferOptions } from './store/interaction-buffer.js'
import { parseDuration, type RetentionPolicy, UPKEEP_DEFAULTS, type UpkeepOptions } from './upkeep/options.js'

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

// ---------------------------------------------------------------------------------------------
// The other settings the environment holds: the HTTP server, its protection, the embedder, upkeep
// and Neon's API for branches. Read here only, so one file lists every variable; each module gets
// plain values. (Two exceptions: the benchmark, a development tool, reads its own ROBOT_BRAIN_BENCH_*
// variables; `archive` reads ROBOT_BRAIN_ARCHIVE_KILL_AFTER, the crash tests' fault injection.)

/** What `serve` reads besides the store's options: PORT, HOST, LOG_LEVEL, ROBOT_BRAIN_ALLOW_ANONYMOUS. */
export interface ServeEnv {
  port?: string
  host?: string
  logLevel?: string
  allowAnonymous: boolean
}

export function serveEnv(env: Env = process.env): ServeEnv {
  return {
    port: env.PORT?.trim() || undefined,
    host: env.HOST?.trim() || undefined,
    logLevel: env.LOG_LEVEL?.trim() || undefined,
    allowAnonymous: env.ROBOT_BRAIN_ALLOW_ANONYMOUS?.trim() === 'true',
  }
}

/**
 * ROBOT_BRAIN_REQUEST_TIMEOUT_MS, ROBOT_BRAIN_HEADERS_TIMEOUT_MS, ROBOT_BRAIN_MAX_CONNECTIONS_PER_CLIENT,
 * ROBOT_BRAIN_HEAVY_CONCURRENCY, ROBOT_BRAIN_METRICS_TOKEN, ROBOT_BRAIN_METRICS_PORT.
 */
export function serveOptionsFromEnv(env: Env = process.env): ServeEnvOptions {
  const read = (name: string): number | undefined => {
    const raw = env[name]?.trim()
    if (!raw) return undefined
    if (!/^\d{1,9}$/.test(raw)) throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`)
    return Number(raw)
  }
  const heavy = read('ROBOT_BRAIN_HEAVY_CONCURRENCY')
  if (heavy === 0) throw new ConfigError('ROBOT_BRAIN_HEAVY_CONCURRENCY must be at least 1')
  const metricsPort = read('ROBOT_BRAIN_METRICS_PORT')
  if (metricsPort !== undefined && metricsPort > 65_535) {
    throw new ConfigError(`ROBOT_BRAIN_METRICS_PORT must be a port number, got ${metricsPort}`)
  }
  const token = env.ROBOT_BRAIN_METRICS_TOKEN?.trim()
  if (token !== undefined && token !== '' && token.length < 16) {
    throw new ConfigError('ROBOT_BRAIN_METRICS_TOKEN must be at least 16 characters')
  }
  const limits: ServerLimits = {
    requestTimeoutMs: read('ROBOT_BRAIN_REQUEST_TIMEOUT_MS'),
    headersTimeoutMs: read('ROBOT_BRAIN_HEADERS_TIMEOUT_MS'),
    maxConnectionsPerClient: read('ROBOT_BRAIN_MAX_CONNECTIONS_PER_CLIENT'),
    heavy: heavy === undefined ? undefined : { max: heavy },
  }
  resolveTimeouts(limits) // fails early on a headers timeout above the request timeout
  return { limits, metricsToken: token || undefined, metricsPort }
}

/** The rate limit from the environment: ROBOT_BRAIN_RATE_LIMIT (0: off) per ROBOT_BRAIN_RATE_LIMIT_WINDOW_MS. */
export function rateLimitFromEnv(env: Env = process.env): RateLimitOptions | false {
  const max = intFromEnv(env, 'ROBOT_BRAIN_RATE_LIMIT', 60_000)
  const timeWindowMs = intFromEnv(env, 'ROBOT_BRAIN_RATE_LIMIT_WINDOW_MS', 60_000)
  if (timeWindowMs < 1) throw new RangeError('ROBOT_BRAIN_RATE_LIMIT_WINDOW_MS must be a positive integer')
  return max === 0 ? false : { max, timeWindowMs }
}

/** ROBOT_BRAIN_CORS_ORIGINS: comma-separated origins (https://app.example.com); none: CORS off. */
export function corsOriginsFromEnv(env: Env = process.env): string[] {
  const raw = env.ROBOT_BRAIN_CORS_ORIGINS?.trim()
  if (!raw) return []
  return raw.split(',').map((o) => {
    const origin = o.trim()
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new RangeError(`ROBOT_BRAIN_CORS_ORIGINS: "${origin}" is not an origin (https://host[:port])`)
    }
    if (url.origin !== origin) {
      throw new RangeError(
        `ROBOT_BRAIN_CORS_ORIGINS: "${origin}" is not an origin; did you mean "${url.origin}"?`,
      )
    }
    return origin
  })
}

function intFromEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw new RangeError(`${name} must be a non-negative integer, got "${raw}"`)
  return Number(raw)
}

/** Which embedder: EMBEDDINGS (builtin | off), or an OpenAI-compatible endpoint (EMBEDDINGS_URL ...). */
export type EmbeddingsSettings =
  | { kind: 'off' }
  | { kind: 'builtin' }
  | { kind: 'openai'; url: string; model: string; apiKey?: string; dimensions?: number }

export function embeddingsFromEnv(env: Env = process.env): EmbeddingsSettings {
  const mode = (env.EMBEDDINGS ?? '').trim().toLowerCase()
  if (mode === 'off' || mode === 'none') return { kind: 'off' }
  const url = env.EMBEDDINGS_URL?.trim()
  if (url) {
    try {
      new URL(url)
    } catch {
      throw new ConfigError('EMBEDDINGS_URL is not a URL')
    }
    const model = env.EMBEDDINGS_MODEL?.trim()
    if (!model) throw new ConfigError('EMBEDDINGS_MODEL is required with EMBEDDINGS_URL')
    const dims = env.EMBEDDINGS_DIMENSIONS?.trim()
    const dimensions = dims ? Number(dims) : undefined
    if (dimensions !== undefined && (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 16000))
      throw new ConfigError('EMBEDDINGS_DIMENSIONS must be an integer from 1 to 16000')
    return { kind: 'openai', url, model, apiKey: env.EMBEDDINGS_API_KEY || undefined, dimensions }
  }
  if (mode !== '' && mode !== 'builtin')
    throw new ConfigError('EMBEDDINGS must be builtin or off (or set EMBEDDINGS_URL)')
  return { kind: 'builtin' }
}

function months(name: string, raw: string | undefined): number | null {
  const value = raw?.trim()
  if (!value || value === 'all') return null
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1)
    throw new ConfigError(`${name} must be a whole number of months from 1 (or "all"), got "${raw}"`)
  return Number(value)
}

export function upkeepOptionsFromEnv(env: Env = process.env): UpkeepOptions {
  const interval = env.ROBOT_BRAIN_UPKEEP_INTERVAL?.trim()
  const lease = env.ROBOT_BRAIN_UPKEEP_LEASE?.trim()
  const retention: RetentionPolicy = {
    conversationsMonths: months(
      'ROBOT_BRAIN_RETENTION_CONVERSATIONS_MONTHS',
      env.ROBOT_BRAIN_RETENTION_CONVERSATIONS_MONTHS,
    ),
    interactionsMonths: months(
      'ROBOT_BRAIN_RETENTION_INTERACTIONS_MONTHS',
      env.ROBOT_BRAIN_RETENTION_INTERACTIONS_MONTHS,
    ),
    archiveDir: env.ROBOT_BRAIN_ARCHIVE_DIR?.trim() || null,
  }
  const options: UpkeepOptions = {
    intervalMs: interval
      ? parseDuration('ROBOT_BRAIN_UPKEEP_INTERVAL', interval)
      : UPKEEP_DEFAULTS.intervalMs,
    leaseMs: lease ? parseDuration('ROBOT_BRAIN_UPKEEP_LEASE', lease) : UPKEEP_DEFAULTS.leaseMs,
    retention,
  }
  if (options.leaseMs < 1000) throw new ConfigError('ROBOT_BRAIN_UPKEEP_LEASE must be at least 1s')
  return options
}

/** Neon's API for `branch`: NEON_API_KEY, NEON_PROJECT_ID, NEON_API_URL (another API address). */
export interface NeonApiSettings {
  apiKey?: string
  projectId?: string
  apiUrl?: string
}

export function neonApiFromEnv(env: Env = process.env): NeonApiSettings {
  return {
    apiKey: env.NEON_API_KEY?.trim() || undefined,
    projectId: env.NEON_PROJECT_ID?.trim() || undefined,
    apiUrl: env.NEON_API_URL?.trim() || undefined,
  }
}
