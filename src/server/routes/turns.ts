// POST and GET /v1/sessions/{sessionId}/turns: record a turn (idempotent by id), read history.
import type { FastifyInstance } from 'fastify'
import { errorResponses, HistoryPage, HistoryQuery, SessionParams, Turn, TurnBody } from '../schemas.js'

const security = [{ bearerAuth: [] }]

export function turnRoutes(app: FastifyInstance): void {
  app.post<{ Params: SessionParams; Body: TurnBody }>(
    '/sessions/:sessionId/turns',
    {
      schema: {
        summary: 'Record a turn',
        description:
          'Stores one turn and counts it into its session (created on first use), atomically. ' +
          'Sending the same id again stores nothing new and answers 200 with the stored turn.',
        tags: ['turns'],
        security,
        params: SessionParams,
        body: TurnBody,
        response: {
          201: { ...Turn, description: 'The new turn.' },
          200: { ...Turn, description: 'A turn with this id was already stored: the stored turn.' },
          ...errorResponses(413),
        },
      },
    },
    async (request, reply) => {
      const { turn, created } = await request.tenantStore.recordTurnResult({
        ...request.body,
        sessionId: request.params.sessionId,
      })
      return reply.code(created ? 201 : 200).send(turn)
    },
  )

  app.get<{ Params: SessionParams; Querystring: HistoryQuery }>(
    '/sessions/:sessionId/turns',
    {
      schema: {
        summary: "A page of a session's turns, newest first",
        tags: ['turns'],
        security,
        params: SessionParams,
        querystring: HistoryQuery,
        response: { 200: HistoryPage, ...errorResponses() },
      },
    },
    (request) =>
      request.tenantStore.history(request.params.sessionId, {
        limit: request.query.limit,
        before: request.query.before,
      }),
  )
}
