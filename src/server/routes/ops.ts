// Operations endpoints: liveness and readiness, open without a key; Prometheus metrics, guarded by
// metrics-access.ts.

import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import { type Migration, schemaIsCurrent } from '../../db/migrate.js'
import { ConfigError, MigrationError } from '../../errors.js'
import type { Store } from '../../store/store.js'
import { errorBody } from '../errors.js'
import { ErrorBody } from '../schemas.js'

export interface OpsOptions {
  store: Store
  /** The migrations this code knows (loaded once). */
  migrations: Migration[]
  registry: Registry
  /** True once shutdown has begun: the server is no longer ready. */
  draining: () => boolean
  /** Longest a readiness check may take before it counts as a failure (ms). */
  readinessTimeoutMs: number
  /** Throws (401/403/404) unless the request may read /metrics; see metrics-access.ts. */
  metricsAccess: (request: FastifyRequest) => Promise<void>
}

const Status = Type.Object({ status: Type.String() })

export function opsRoutes(app: FastifyInstance, options: OpsOptions): void {
  const { store, migrations, registry, draining, readinessTimeoutMs, metricsAccess } = options

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['operations'],
        response: { 200: Status },
      },
    },
    async () => ({ status: 'ok' }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: the database answers and its schema is current',
        tags: ['operations'],
        response: {
          200: Status,
          503: {
            ...ErrorBody,
            description:
              'Not ready: database unreachable, schema not current, a configuration that cannot work (the message says what to fix), or stopping.',
          },
        },
      },
    },
    async (request, reply) => {
      if (draining()) return reply.code(503).send(errorBody('not_ready', 'the server is shutting down'))
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${readinessTimeoutMs} ms`)),
          readinessTimeoutMs,
        )
      })
      try {
        // As the application role, on the app pool: the path requests take. No retries: readiness
        // must answer now, and a load balancer asks again.
        const check = schemaIsCurrent(store.transport.app, migrations)
        check.catch(() => {}) // when the timeout wins, a late failure must not go unhandled
        const current = await Promise.race([check, timeout])
        if (!current) {
          return reply
            .code(503)
            .send(errorBody('not_ready', 'the database schema is not current: run `robot-brain-db migrate`'))
        }
        // Ready only when requests can succeed: the app's login role must be usable (checked once,
        // then remembered), not merely able to read the migration history.
        const usable = store.ready()
        usable.catch(() => {})
        await Promise.race([usable, timeout])
        return { status: 'ready' }
      } catch (err) {
        if (err instanceof ConfigError || err instanceof MigrationError) {
          request.log.error({ err }, 'not ready: the configuration cannot work')
          return reply.code(503).send(errorBody('not_ready', err.message))
        }
        request.log.warn({ err }, 'readiness check failed')
        return reply.code(503).send(errorBody('not_ready', 'the database is not reachable'))
      } finally {
        clearTimeout(timer)
      }
    },
  )

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'With ROBOT_BRAIN_METRICS_TOKEN set: only with Authorization: Bearer <token>. Without it: open ' +
          'while no API key exists (loopback), 403 once keys exist. With a separate metrics port: 404 here.',
        tags: ['operations'],
        produces: ['text/plain'],
        security: [{ metricsToken: [] }, {}],
        response: {
          401: { ...ErrorBody, description: 'A metrics token is configured and this request lacks it.' },
          403: { ...ErrorBody, description: 'API keys exist and no metrics token is configured.' },
          404: { ...ErrorBody, description: '/metrics is served on the separate metrics port.' },
        },
      },
    },
    async (request, reply) => {
      await metricsAccess(request)
      reply.header('content-type', registry.contentType)
      return registry.metrics()
    },
  )
}
