// GET /v1/sessions/{sessionId}/context: the turns to give an LLM, within a token budget.
import type { FastifyInstance } from 'fastify'
import { ContextQuery, ContextResult, errorResponses, SessionParams } from '../schemas.js'

export function contextRoutes(app: FastifyInstance): void {
  app.get<{ Params: SessionParams; Querystring: ContextQuery }>(
    '/sessions/:sessionId/context',
    {
      schema: {
        summary: 'Context for an LLM: recent turns, and older ones relevant to a query, within maxTokens',
        description:
          'recent: the newest turns that fit the budget, oldest first. With query: relevant older turns of ' +
          "the session's user (or of the session, when it has no user), best first. Recent turns take up to " +
          '3/4 of the budget when a query is given; tokens counted with o200k_base (gpt-tokenizer).',
        tags: ['search'],
        security: [{ bearerAuth: [] }],
        params: SessionParams,
        querystring: ContextQuery,
        response: { 200: ContextResult, ...errorResponses(404) },
      },
    },
    (request) =>
      request.tenantStore.context(request.params.sessionId, {
        maxTokens: request.query.maxTokens,
        query: request.query.query,
      }),
  )
}
