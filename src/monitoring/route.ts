// GET /monitoring: the database's monitoring report as JSON, for the dashboard and scripts. It shows
// every tenant's figures, so it is guarded like /metrics (metrics-access.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { ErrorBody } from '../server/schemas.js'
import type { InteractionBuffer } from '../store/interaction-buffer.js'
import type { Store } from '../store/store.js'
import { MonitoringResponse } from './schema.js'
import type { MonitoringSource } from './snapshot.js'

export interface MonitoringRouteOptions {
  store: Store
  snapshot: MonitoringSource
  interactionBuffer?: InteractionBuffer
  /** Throws (401/403/404) unless the request may read operator figures. */
  access: (request: FastifyRequest) => Promise<void>
}

export function monitoringRoute(app: FastifyInstance, options: MonitoringRouteOptions): void {
  app.get(
    '/monitoring',
    {
      schema: {
        summary:
          'Database monitoring: connections, slow statements, cache, table sizes, vacuum, locks, queues',
        description:
          'The figures of `robot-brain-db status` beyond row counts, plus the interaction buffer of this ' +
          'server. Guarded like /metrics: the metrics token when configured; otherwise open on loopback ' +
          'while no API key exists.',
        tags: ['operations'],
        security: [{ metricsToken: [] }, {}],
        response: {
          200: MonitoringResponse,
          401: { ...ErrorBody, description: 'A metrics token is configured and this request lacks it.' },
          403: { ...ErrorBody, description: 'API keys exist and no metrics token is configured.' },
          404: {
            ...ErrorBody,
            description: 'A separate metrics port is configured: operator figures stay off the API port.',
          },
        },
      },
    },
    async (request) => {
      await options.access(request)
      const report = await options.snapshot()
      // The replica as read routing last saw it (its own checks keep it current): no extra query.
      const replica = await options.store.replica().catch(() => null)
      return {
        ...report,
        replicaLagSeconds: replica?.lagMs != null ? replica.lagMs / 1000 : null,
        replica: replica?.configured ? replica : null,
        embeddingBacklog: await options.store.embeddingBacklog().catch(() => null),
        interactionBuffer: options.interactionBuffer?.stats() ?? null,
      }
    },
  )
}
