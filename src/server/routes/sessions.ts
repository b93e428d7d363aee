// /v1/sessions: list, read, merge user metadata, delete (with all its turns).
import type { FastifyInstance } from 'fastify'
import {
  errorResponses,
  ListSessionsQuery,
  Session,
  SessionPage,
  SessionParams,
  SessionPatch,
} from '../schemas.js'

const security = [{ bearerAuth: [] }]

export function sessionRoutes(app: FastifyInstance): void {
  app.get<{ Querystring: ListSessionsQuery }>(
    '/sessions',
    {
      schema: {
        summary: 'List sessions, most recently active first',
        tags: ['sessions'],
        security,
        querystring: ListSessionsQuery,
        response: { 200: SessionPage, ...errorResponses() },
      },
    },
    (request) => request.tenantStore.listSessions(request.query),
  )

  app.get<{ Params: SessionParams }>(
    '/sessions/:sessionId',
    {
      schema: {
        summary: 'Read a session',
        tags: ['sessions'],
        security,
        params: SessionParams,
        response: { 200: Session, ...errorResponses(404) },
      },
    },
    (request) => request.tenantStore.getSession(request.params.sessionId),
  )

  app.patch<{ Params: SessionParams; Body: SessionPatch }>(
    '/sessions/:sessionId',
    {
      schema: {
        summary: "Merge into a session's user metadata",
        description:
          'Top-level keys of userMetadata replace those stored; other keys stay. The merged object must ' +
          'be at most 16 KiB as JSON, like each patch: a patch that would make it larger is refused ' +
          '(400 naming userMetadata) and changes nothing.',
        tags: ['sessions'],
        security,
        params: SessionParams,
        body: SessionPatch,
        response: { 200: Session, ...errorResponses(404, 413) },
      },
    },
    (request) =>
      request.tenantStore.updateSessionMetadata(request.params.sessionId, request.body.userMetadata),
  )

  app.delete<{ Params: SessionParams }>(
    '/sessions/:sessionId',
    {
      schema: {
        summary: 'Delete a session and all its turns',
        tags: ['sessions'],
        security,
        params: SessionParams,
        response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses(404) },
      },
    },
    async (request, reply) => {
      await request.tenantStore.deleteSession(request.params.sessionId)
      return reply.code(204).send()
    },
  )
}
