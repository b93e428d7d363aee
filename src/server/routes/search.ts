// GET and POST /v1/search: full text, semantic or hybrid search over the tenant's turns.
import type { FastifyInstance } from 'fastify'
import { errorResponses, SearchBody, SearchQuery, SearchResults } from '../schemas.js'

const security = [{ bearerAuth: [] }]
const description =
  'fulltext: web-search syntax ("a phrase", -word, or) over user messages (weighted higher) and robot ' +
  'responses, any language. semantic: nearest turns by the configured embedding model (pgvector; 503 ' +
  'vector_extension_missing where the database lacks it). hybrid: both fused by reciprocal rank (k = 60). ' +
  'Filters apply to every mode and never cut the answer short: it holds min(limit, matching turns).'

export function searchRoutes(app: FastifyInstance): void {
  app.get<{ Querystring: SearchQuery }>(
    '/search',
    {
      schema: {
        summary: 'Search turns (full text, semantic or hybrid)',
        description,
        tags: ['search'],
        security,
        querystring: SearchQuery,
        response: { 200: SearchResults, ...errorResponses() },
      },
    },
    (request) => {
      const { q, ...filters } = request.query
      return request.tenantStore.search({ query: q, ...filters })
    },
  )

  app.post<{ Body: SearchBody }>(
    '/search',
    {
      schema: {
        summary: 'Search turns, with a metadata containment filter',
        description: `The same search as GET, with the fields in a JSON body, plus metadata. ${description}`,
        tags: ['search'],
        security,
        body: SearchBody,
        response: { 200: SearchResults, ...errorResponses() },
      },
    },
    (request) => {
      const { q, ...filters } = request.body
      return request.tenantStore.search({ query: q, ...filters })
    },
  )
}
