// GET /v1/sessions/{sessionId}/messages: the latest turns as chat messages, oldest first, within an
// optional token budget; the list chatbot code hands to a model.
import type { FastifyInstance } from 'fastify'
import { errorResponses, MessagesPage, MessagesQuery, SessionParams } from '../schemas.js'

export function messageRoutes(app: FastifyInstance): void {
  app.get<{ Params: SessionParams; Querystring: MessagesQuery }>(
    '/sessions/:sessionId/messages',
    {
      schema: {
        summary: "A session's latest turns as chat messages (role, content), oldest first",
        description:
          'The newest `limit` turns before `before`, in chat order: each turn gives its user message, then ' +
          'its answer when it has one; ready for OpenAI, Anthropic and Vercel AI SDK message lists. ' +
          'maxTokens drops the oldest turns until the estimate fits. An unknown session answers an empty list.',
        tags: ['turns'],
        security: [{ bearerAuth: [] }],
        params: SessionParams,
        querystring: MessagesQuery,
        response: { 200: MessagesPage, ...errorResponses() },
      },
    },
    (request) => request.tenantStore.messages(request.params.sessionId, request.query),
  )
}
