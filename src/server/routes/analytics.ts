// GET /v1/analytics/*: declared (so clients and the OpenAPI document know their shape), not built yet.
import type { FastifyInstance } from 'fastify'
import { NotImplementedError } from '../errors.js'
import { errorResponses, InteractionAnalyticsQuery, TimeRangeQuery } from '../schemas.js'

const notYet = async (): Promise<never> => {
  throw new NotImplementedError('analytics are not available in this version of robot-brain-db yet')
}

export function analyticsRoutes(app: FastifyInstance): void {
  app.get(
    '/analytics/personalities',
    {
      schema: {
        summary: 'Statistics per robot personality',
        description: 'Not available yet in this version: answers 501.',
        tags: ['analytics'],
        security: [{ bearerAuth: [] }],
        querystring: TimeRangeQuery,
        response: errorResponses(501),
      },
    },
    notYet,
  )
  app.get(
    '/analytics/interactions',
    {
      schema: {
        summary: 'Interaction statistics by robot or by interaction type',
        description: 'Not available yet in this version: answers 501.',
        tags: ['analytics'],
        security: [{ bearerAuth: [] }],
        querystring: InteractionAnalyticsQuery,
        response: errorResponses(501),
      },
    },
    notYet,
  )
}
