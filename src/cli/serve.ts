// robot-brain-db serve [--port N] [--host H] [--log-level L] [--metrics-port N]: migrate, then serve
// the HTTP API until SIGTERM or SIGINT, then shut down gracefully.
import type { Command } from 'commander'
import {
  corsOriginsFromEnv,
  interactionBufferOptionsFromEnv,
  rateLimitFromEnv,
  serveEnv,
  serveOptionsFromEnv,
  upkeepOptionsFromEnv,
} from '../config.js'
import { withRetry } from '../db/retry.js'
import { KeyStore } from '../keys/keys.js'
import type { buildApp } from '../server/app.js'
import { isLoopbackHost } from '../server/auth.js'
import { listenForMetrics } from '../server/metrics-access.js'
import type { RateLimitOptions } from '../server/protection-options.js'
import { shutdown } from '../server/shutdown.js'
import { openStore } from '../store/store.js'
import { Upkeep } from '../upkeep/scheduler.js'
import { type DbFlags, storeOptions, UsageError } from './common.js'
import { logStartup, serveLoggerOptions } from './serve-log.js'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
const SHUTDOWN_TIMEOUT_MS = 10_000

interface ServeFlags extends DbFlags {
  port?: string
  host?: string
  logLevel?: string
  metricsPort?: string
  allowAnonymous?: boolean
}

export function parsePort(value: string, source: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) {
    throw new UsageError(`${source} must be a port number from 0 to 65535, got "${value}"`)
  }
  return Number(value)
}

export function register(program: Command): void {
  program
    .command('serve')
    .description(
      'migrate, then serve the HTTP API (default http://127.0.0.1:3000) until SIGTERM/SIGINT.\n' +
        'Bound beyond loopback (e.g. --host 0.0.0.0), it needs at least one API key (see `keys`).',
    )
    .option('--port <port>', 'port to listen on (default: PORT or 3000; 0 picks a free one)')
    .option('--host <host>', 'address to listen on (default: HOST or 127.0.0.1)')
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')} (default: LOG_LEVEL or info)`)
    .option(
      '--metrics-port <port>',
      'serve GET /metrics on this port (same host) instead of the API port (default: ROBOT_BRAIN_METRICS_PORT)',
    )
    .option(
      '--allow-anonymous',
      'on loopback, serve requests without a key as tenant "default" again after every key was revoked ' +
        '(default: once keys were used, the server stays closed; also ROBOT_BRAIN_ALLOW_ANONYMOUS=true)',
    )
    .addHelpText(
      'after',
      '\nOnce API keys exist, /metrics needs ROBOT_BRAIN_METRICS_TOKEN (Bearer) or --metrics-port.\n' +
        'Limits (environment): ROBOT_BRAIN_REQUEST_TIMEOUT_MS (30000), ROBOT_BRAIN_HEADERS_TIMEOUT_MS (10000),\n' +
        'ROBOT_BRAIN_MAX_CONNECTIONS_PER_CLIENT (64), ROBOT_BRAIN_HEAVY_CONCURRENCY (8),\n' +
        'ROBOT_BRAIN_RATE_LIMIT (60000 requests per key, 0: off) per ROBOT_BRAIN_RATE_LIMIT_WINDOW_MS (60000).\n' +
        'CORS: off unless ROBOT_BRAIN_CORS_ORIGINS lists origins (comma-separated).\n' +
        'Upkeep (partitions, session_stats, retention; see `maintain`): at most once per\n' +
        'ROBOT_BRAIN_UPKEEP_INTERVAL (6h; off: never), one server at a time, only while serving requests.',
    )
    .action(async (opts: ServeFlags) => {
      const fromEnv = serveEnv()
      const port = opts.port ? parsePort(opts.port, '--port') : parsePort(fromEnv.port ?? '3000', 'PORT')
      const host = opts.host ?? fromEnv.host ?? '127.0.0.1'
      const level = opts.logLevel ?? fromEnv.logLevel ?? 'info'
      if (!LOG_LEVELS.includes(level))
        throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`)
      const env = serveOptionsFromEnv()
      const metricsPort = opts.metricsPort ? parsePort(opts.metricsPort, '--metrics-port') : env.metricsPort
      const allowAnonymous = opts.allowAnonymous === true || fromEnv.allowAnonymous
      let protection: { rateLimit: RateLimitOptions | false; corsOrigins: string[] }
      try {
        protection = { rateLimit: rateLimitFromEnv(), corsOrigins: corsOriginsFromEnv() }
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
      await serve({ ...opts, port, host, level, allowAnonymous, ...protection, env: { ...env, metricsPort } })
    })
}

async function serve(
  opts: DbFlags & {
    port: number
    host: string
    level: string
    allowAnonymous: boolean
    rateLimit: RateLimitOptions | false
    corsOrigins: string[]
    env: ReturnType<typeof serveOptionsFromEnv>
  },
): Promise<void> {
  // Loaded here, not at the top: other commands should not pay for Fastify and its plugins.
  const { buildApp } = await import('../server/app.js')
  const store = await openStore(storeOptions(opts))
  let app: Awaited<ReturnType<typeof buildApp>> | undefined
  try {
    const migrated = await store.migrate()
    // Refuse to start (before listening) when application queries cannot run, e.g. a privileged
    // login through a transaction-mode pooler: never a server whose every request fails.
    await store.ready()
    const loopback = isLoopbackHost(opts.host)
    const keysExist = await new KeyStore(store.transport.owner).anyActive()
    if (!loopback && !keysExist) {
      throw new Error(
        `refusing to listen on ${opts.host} with no API keys: anyone who can reach it would act as tenant ` +
          '"default". Create a key first (robot-brain-db keys create --tenant <tenant>), or listen on 127.0.0.1.',
      )
    }
    const upkeep = new Upkeep({
      owner: store.transport.owner,
      options: upkeepOptionsFromEnv(),
      retry: (fn) => withRetry(fn, store.config.retry),
      log: { info: (o, m) => app?.log.info(o, m), warn: (o, m) => app?.log.warn(o, m) },
    })
    app = await buildApp({
      store,
      upkeep,
      logger: serveLoggerOptions(opts.level),
      allowAnonymous: loopback,
      allowAnonymousAfterKeys: opts.allowAnonymous,
      rateLimit: opts.rateLimit,
      corsOrigins: opts.corsOrigins,
      limits: opts.env.limits,
      metrics: { token: opts.env.metricsToken, separatePort: opts.env.metricsPort !== undefined },
      // Bounded: when full, POST /v1/interactions answers 503 with Retry-After rather than wait.
      interactionBuffer: store.interactionBuffer({
        ...interactionBufferOptionsFromEnv(),
        whenFull: 'reject',
      }),
    })
    await logStartup(app.log, store, migrated)
    if (!keysExist) {
      const closed = !opts.allowAnonymous && (await new KeyStore(store.transport.owner).anyEver())
      app.log.warn(
        closed
          ? 'every API key is revoked: requests get 401 until a key is made (keys create, or start with --allow-anonymous)'
          : 'no API keys exist: requests without a key act as tenant "default" (loopback only)',
      )
    }
    if (opts.env.metricsPort !== undefined) {
      const metrics = await listenForMetrics(app.robotBrain.registry, {
        port: opts.env.metricsPort,
        host: opts.host,
        token: opts.env.metricsToken,
      })
      app.robotBrain.extraServers.push(metrics)
      const where = metrics.address()
      app.log.info({ metricsPort: typeof where === 'object' ? where?.port : where }, 'metrics listening')
    }
    await app.listen({ port: opts.port, host: opts.host })
    // Embeddings are computed in the background from the queue in the database: a turn write never
    // waits for them, and a restart picks up where this one stopped.
    const log = app.log
    store.startEmbeddingWorker({ onError: (err) => log.warn({ err }, 'embedding worker: will retry') })
  } catch (err) {
    for (const extra of app?.robotBrain.extraServers ?? []) extra.close()
    await app?.close().catch(() => {})
    await store.close().catch(() => {})
    throw err
  }
  const running = app
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      running.log.info({ signal }, 'shutting down')
      // A second signal while draining means "now".
      process.once('SIGINT', () => process.exit(1))
      process.once('SIGTERM', () => process.exit(1))
      shutdown(running, store, { timeoutMs: SHUTDOWN_TIMEOUT_MS }).then((clean) => {
        if (!clean) {
          running.log.error(`shutdown did not finish within ${SHUTDOWN_TIMEOUT_MS} ms; exiting anyway`)
          process.exit(1)
        }
        resolve()
      })
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
}
