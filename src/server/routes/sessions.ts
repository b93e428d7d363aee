// /v1/sessions: list (all or one user's), read, create or replace (PUT), update (PATCH), delete with
// all its turns.
import type { FastifyInstance } from 'fastify'
import {
  errorResponses,
  ListSessionsQuery,
  Session,
  SessionPage,
  SessionParams,
  SessionPatch,
  SessionPut,
} from '../schemas.js'

const security = [{ bearerAuth: [] }]

export function sessionRoutes(app: FastifyInstance): void {
  app.get<{ Querystring: ListSessionsQuery }>(
    '/sessions',
    {
      schema: {
        summary: "List sessions (all, or one user's), most recently active first",
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

  app.put<{ Params: SessionParams; Body: SessionPut }>(
    '/sessions/:sessionId',
    {
      schema: {
        summary: 'Create a session (before its first turn), or set its user and replace its metadata',
        description:
          'Creates the session when it does not exist (201), else updates it (200). userId sets the user ' +
          '(null removes it); userMetadata replaces the stored metadata. A field left out keeps its value ' +
          '({} for a new session). The body may be empty ({}).',
        tags: ['sessions'],
        security,
        params: SessionParams,
        body: SessionPut,
        response: {
          201: { ...Session, description: 'The new session.' },
          200: { ...Session, description: 'The updated session.' },
          ...errorResponses(413, 415),
        },
      },
    },
    async (request, reply) => {
      const { session, created } = await request.tenantStore.putSessionResult(
        request.params.sessionId,
        request.body,
      )
      return reply.code(created ? 201 : 200).send(session)
    },
  )

  app.patch<{ Params: SessionParams; Body: SessionPatch }>(
    '/sessions/:sessionId',
    {
      schema: {
        summary: "Merge into a session's user metadata, or set its user",
        description:
          'Top-level keys of userMetadata replace those stored; other keys stay. The merged object must ' +
          'be at most 16 KiB as JSON, like each patch: a patch that would make it larger is refused ' +
          '(400 naming userMetadata) and changes nothing. userId sets the user (null removes it). At ' +
          'least one of the two.',
        tags: ['sessions'],
        security,
        params: SessionParams,
        body: SessionPatch,
        response: { 200: Session, ...errorResponses(404, 413, 415) },
      },
    },
    (request) => request.tenantStore.updateSession(request.params.sessionId, request.body),
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
