// POST /v1/interactions: a batch of robot interaction events (idempotent by event id).
import type { FastifyInstance } from 'fastify'
import { Accepted, errorResponses, InteractionsBody } from '../schemas.js'

export function interactionRoutes(app: FastifyInstance): void {
  app.post<{ Body: InteractionsBody }>(
    '/interactions',
    {
      schema: {
        summary: 'Record robot interaction events (1 to 1000)',
        description: 'Events whose id was already stored are accepted and not stored twice.',
        tags: ['interactions'],
        security: [{ bearerAuth: [] }],
        body: InteractionsBody,
        response: { 202: Accepted, ...errorResponses(413, 415) },
      },
    },
    async (request, reply) => {
      const { accepted } = await request.tenantStore.recordInteractions(request.body.events)
      return reply.code(202).send({ accepted })
    },
  )
}
