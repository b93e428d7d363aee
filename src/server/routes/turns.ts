// /v1/sessions/{sessionId}/turns: record a turn (idempotent by id; answer optional), read history in
// either order, add the answer to a turn (PATCH), delete one turn.
import type { FastifyInstance } from 'fastify'
import {
  CompleteTurnBody,
  errorResponses,
  HistoryPage,
  HistoryQuery,
  SessionParams,
  Turn,
  TurnBody,
  TurnParams,
} from '../schemas.js'

const security = [{ bearerAuth: [] }]

export function turnRoutes(app: FastifyInstance): void {
  app.post<{ Params: SessionParams; Body: TurnBody }>(
    '/sessions/:sessionId/turns',
    {
      schema: {
        summary: 'Record a turn',
        description:
          'Stores one turn and counts it into its session (created on first use), atomically. ' +
          'Sending the same id again with the same content stores nothing new and answers 200 with the ' +
          'stored turn; with other content it answers 409. Without robotResponse the turn awaits its ' +
          'answer: add it with PATCH /v1/sessions/{sessionId}/turns/{turnId}.',
        tags: ['turns'],
        security,
        params: SessionParams,
        body: TurnBody,
        response: {
          201: { ...Turn, description: 'The new turn.' },
          200: {
            ...Turn,
            description: 'A turn with this id and content was already stored: the stored turn.',
          },
          ...errorResponses(409, 413, 415),
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
        summary: "A page of a session's turns, newest first (or oldest first with order=asc)",
        tags: ['turns'],
        security,
        params: SessionParams,
        querystring: HistoryQuery,
        response: { 200: HistoryPage, ...errorResponses() },
      },
    },
    (request) => request.tenantStore.history(request.params.sessionId, request.query),
  )

  app.patch<{ Params: TurnParams; Body: CompleteTurnBody }>(
    '/sessions/:sessionId/turns/:turnId',
    {
      schema: {
        summary: 'Add the answer to a turn recorded without one',
        description:
          "Sets robotResponse and merges metadata into the turn's. The session's messageCount does not " +
          'change (the turn was counted when recorded). The same answer again answers 200 with the turn; ' +
          'another answer, 409.',
        tags: ['turns'],
        security,
        params: TurnParams,
        body: CompleteTurnBody,
        response: { 200: Turn, ...errorResponses(404, 409, 413, 415) },
      },
    },
    (request) =>
      request.tenantStore.completeTurn(request.params.sessionId, request.params.turnId, request.body),
  )

  app.delete<{ Params: TurnParams }>(
    '/sessions/:sessionId/turns/:turnId',
    {
      schema: {
        summary: 'Delete one turn',
        description: "The session's messageCount goes down by one.",
        tags: ['turns'],
        security,
        params: TurnParams,
        response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await request.tenantStore.deleteTurn(request.params.sessionId, request.params.turnId)
      return reply.code(204).send()
    },
  )
}
