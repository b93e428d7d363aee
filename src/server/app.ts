// The HTTP service as a Fastify instance: used by `robot-brain-db serve` and by the tests.
// The caller owns the store (migrated beforehand) and listening; this file wires the pieces.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Server } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import type { DestinationStream } from 'pino'
import type { Registry } from 'prom-client'
import { loadMigrations } from '../db/migrate.js'
import { KeyLookup } from '../keys/lookup.js'
import { monitoringRoute } from '../monitoring/route.js'
import { monitoringSnapshot } from '../monitoring/snapshot.js'
import type { InteractionBuffer } from '../store/interaction-buffer.js'
import { LIMITS } from '../store/limits.js'
import type { Store } from '../store/store.js'
import type { Upkeep } from '../upkeep/scheduler.js'
import { authHook, type RequestAuth } from './auth.js'
import { HeavyLimit, heavyLimitHook } from './concurrency.js'
import { type ConnectionCap, capConnectionsPerAddress } from './connections.js'
import { dashboardRoute } from './dashboard.js'
import { errorBody, handleError, handleNotFound } from './errors.js'
import { registerMetrics } from './metrics.js'
import { type MetricsAccessOptions, metricsGuard } from './metrics-access.js'
import { registerDocs, registerOpenApi } from './openapi.js'
import { resolveTimeouts, SERVER_DEFAULTS, type ServerLimits } from './options.js'
import { registerHeaders, registerRateLimit } from './protection.js'
import type { RateLimitOptions } from './protection-options.js'
import { analyticsRoutes } from './routes/analytics.js'
import { auditRoutes } from './routes/audit.js'
import { contextRoutes } from './routes/context.js'
import { interactionRoutes } from './routes/interactions.js'
import { keyRoutes } from './routes/keys.js'
import { messageRoutes } from './routes/messages.js'
import { opsRoutes } from './routes/ops.js'
import { searchRoutes } from './routes/search.js'
import { sessionRoutes } from './routes/sessions.js'
import { turnRoutes } from './routes/turns.js'
import { userRoutes } from './routes/users.js'
import { validatorCompiler } from './validation.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
}

export interface AppOptions {
  /** The store, already migrated. The app does not close it: the caller does (see shutdown.ts). */
  store: Store
  /** Fastify/pino logger options; false for none. Authorization headers are always redacted. */
  logger?: boolean | { level?: string; transport?: { target: string; options?: Record<string, unknown> } }
  /** Where log lines go (default standard output); e.g. a stream a test reads. */
  logStream?: DestinationStream
  /**
   * Whether requests without a key may act as tenant `default` while no key exists. Pass true only
   * when the server listens on loopback (see isLoopbackHost). Default false.
   */
  allowAnonymous?: boolean
  /** Anonymous access comes back when every key was revoked (default false: it stays closed). */
  allowAnonymousAfterKeys?: boolean
  /** Requests per API key (or client address) and window; default none (serve reads the environment). */
  rateLimit?: RateLimitOptions | false
  /** Origins allowed by CORS; default none (CORS off). */
  corsOrigins?: string[]
  /** How long a key lookup may be reused (ms, at most 1000). Default 1000. */
  authCacheMs?: number
  /** Longest a readiness check may take (ms). Default 5000. */
  readinessTimeoutMs?: number
  /**
   * Buffered writer for POST /v1/interactions (202 then means "accepted into the buffer"; shutdown
   * flushes it before the store closes). Without one, each request writes its events directly.
   */
  interactionBuffer?: InteractionBuffer
  /** Timeouts, connections per client, heavy requests in flight (see options.ts for defaults). */
  limits?: ServerLimits
  /** Who may read /metrics (see metrics-access.ts). */
  metrics?: MetricsAccessOptions
  /** Scheduled upkeep, started by API traffic (never by a timer: see upkeep/scheduler.ts). */
  upkeep?: Upkeep
}

export interface ServerState {
  /** Set when shutdown begins: /readyz answers 503 from then on. */
  draining: boolean
  /** The buffered interaction writer, flushed by shutdown(). */
  interactionBuffer?: InteractionBuffer
  /** Every route registered, for the dashboard and the tests that hold the OpenAPI document to it. */
  routes: Array<{ method: string; url: string; hidden: boolean }>
  /** The Prometheus registry behind /metrics (also served by a separate metrics listener). */
  registry: Registry
  /** Open connections per client address, under the cap. */
  connections: ConnectionCap
  /** Other listeners that live and die with the app (a metrics port): shutdown closes them. */
  extraServers: Server[]
  /** Scheduled upkeep: shutdown stops it before closing the store. */
  upkeep?: Upkeep
}

declare module 'fastify' {
  interface FastifyInstance {
    robotBrain: ServerState
  }
}

/** A request id from the client's X-Request-Id when it is a sane token, otherwise a new UUID. */
function requestId(req: { headers: Record<string, string | string[] | undefined> }): string {
  const given = req.headers['x-request-id']
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID()
}

function loggerOptions(
  logger: AppOptions['logger'],
  stream: DestinationStream | undefined,
): FastifyServerOptions['logger'] {
  if (!logger) return false
  return {
    ...(typeof logger === 'object' ? logger : {}),
    ...(stream ? { stream } : {}),
    // Fastify's request serializer logs no headers; this keeps it so if anyone adds them.
    redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' },
  }
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { store } = options
  const timeouts = resolveTimeouts(options.limits)
  const app = Fastify({
    logger: loggerOptions(options.logger, options.logStream),
    // A client that announces a body and sends nothing (or trickles it) gets 408 and loses its socket.
    requestTimeout: timeouts.requestTimeoutMs,
    http: { headersTimeout: timeouts.headersTimeoutMs, connectionsCheckingInterval: timeouts.checkEveryMs },
    bodyLimit: LIMITS.bodyBytes,
    genReqId: requestId,
    // Answer 503 to requests that arrive while closing, rather than holding them.
    return503OnClosing: true,
    // Room for a 100-character session id percent-encoded (up to 12 bytes a character); the
    // schema then enforces the 100-character limit with a clear message.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 2048 },
    // URL errors found by the router, before any route or error handler: same JSON error shape.
    frameworkErrors: (err, _request, reply) =>
      (reply as FastifyReply).code(400).send(errorBody('bad_request', `the URL is not valid (${err.code})`)),
  })
  const connections = capConnectionsPerAddress(
    app.server,
    options.limits?.maxConnectionsPerClient ?? SERVER_DEFAULTS.maxConnectionsPerClient,
  )
  const monitoring = monitoringSnapshot(store)
  const registry = registerMetrics(app, { store, interactionBuffer: options.interactionBuffer, monitoring })
  const state: ServerState = {
    draining: false,
    routes: [],
    interactionBuffer: options.interactionBuffer,
    registry,
    connections,
    extraServers: [],
    upkeep: options.upkeep,
  }
  app.decorate('robotBrain', state)
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const hidden = (route.schema as { hide?: boolean } | undefined)?.hide === true
      state.routes.push({ method, url: route.url, hidden })
    }
  })
  app.decorateRequest('tenantStore', null as unknown as Store)
  app.decorateRequest('auth', null as unknown as RequestAuth)
  // The API takes JSON only: without Fastify's text/plain parser, such a body gets 415 (errors.ts).
  app.removeContentTypeParser('text/plain')
  app.setValidatorCompiler(validatorCompiler())
  app.setErrorHandler(handleError)
  app.setNotFoundHandler(handleNotFound)
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
  })
  // While shutting down, a request that was in flight gets its answer and its connection closed, so
  // a keep-alive client cannot hold the shutdown open.
  app.addHook('onSend', async (_request, reply) => {
    if (state.draining) reply.header('connection', 'close')
  })
  await registerHeaders(app, options.corsOrigins)
  await registerOpenApi(app, pkg.version)

  const keys = new KeyLookup(store.transport.app, store.config.retry, options.authCacheMs ?? 1000)
  await app.register(
    async (v1) => {
      v1.addHook(
        'onRequest',
        authHook({
          store,
          keys,
          allowAnonymous: options.allowAnonymous ?? false,
          allowAnonymousAfterKeys: options.allowAnonymousAfterKeys,
        }),
      )
      if (options.rateLimit) await registerRateLimit(v1, options.rateLimit)
      v1.addHook('preHandler', heavyLimitHook(new HeavyLimit(options.limits?.heavy)))
      // API traffic means the compute is awake anyway: the moment for upkeep, when due.
      const upkeep = options.upkeep
      if (upkeep) v1.addHook('onResponse', async () => upkeep.poke())
      turnRoutes(v1)
      messageRoutes(v1)
      sessionRoutes(v1)
      interactionRoutes(v1, options.interactionBuffer)
      searchRoutes(v1)
      contextRoutes(v1)
      analyticsRoutes(v1)
      auditRoutes(v1)
      keyRoutes(v1, keys)
      userRoutes(v1)
    },
    { prefix: '/v1' },
  )
  const metricsAccess = metricsGuard({
    ...options.metrics,
    keys,
    allowAnonymous: options.allowAnonymous ?? false,
    allowAnonymousAfterKeys: options.allowAnonymousAfterKeys,
  })
  opsRoutes(app, {
    store,
    migrations: loadMigrations(),
    registry,
    draining: () => state.draining,
    metricsAccess,
    readinessTimeoutMs: options.readinessTimeoutMs ?? 5000,
  })
  monitoringRoute(app, {
    store,
    snapshot: monitoring,
    interactionBuffer: options.interactionBuffer,
    access: metricsAccess,
  })
  dashboardRoute(app, pkg.version)
  await registerDocs(app)
  return app
}
