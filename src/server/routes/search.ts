// GET /v1/search: declared (so clients and the OpenAPI document know its shape), not built yet.
import type { FastifyInstance } from 'fastify'
import { NotImplementedError } from '../errors.js'
import { errorResponses, SearchQuery } from '../schemas.js'

export function searchRoutes(app: FastifyInstance): void {
  app.get(
    '/search',
    {
      schema: {
        summary: 'Search turns (full text, semantic or hybrid)',
        description: 'Not available yet in this version: answers 501.',
        tags: ['search'],
        security: [{ bearerAuth: [] }],
        querystring: SearchQuery,
        response: errorResponses(501),
      },
    },
    async () => {
      throw new NotImplementedError('search is not available in this version of robot-brain-db yet')
    },
  )
}
