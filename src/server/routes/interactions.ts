// POST /v1/interactions: a batch of robot interaction events (idempotent by event id).
import type { FastifyInstance } from 'fastify'
import type { InteractionBuffer } from '../../store/interaction-buffer.js'
import { Accepted, errorResponses, InteractionsBody } from '../schemas.js'

/** With a buffer, events are queued (bounded; full: 503 + Retry-After) and written in batches. */
export function interactionRoutes(app: FastifyInstance, buffer?: InteractionBuffer): void {
  app.post<{ Body: InteractionsBody }>(
    '/interactions',
    {
      schema: {
        summary: 'Record robot interaction events (1 to 1000)',
        description: 'Events whose id was already stored are accepted and not stored twice.',
        tags: ['interactions'],
        security: [{ bearerAuth: [] }],
        body: InteractionsBody,
        response: { 202: Accepted, ...errorResponses(413) },
      },
    },
    async (request, reply) => {
      const { events } = request.body
      const { accepted } = buffer
        ? await buffer.add(events, request.tenantStore.tenantId)
        : await request.tenantStore.recordInteractions(events)
      return reply.code(202).send({ accepted })
    },
  )
}
