// /v1/users/{userId}: export one person's sessions and turns as JSON lines, or erase them (admin key).
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { errorResponses } from '../schemas.js'
import { UserErasure, UserParams } from '../security-schemas.js'

const security = [{ bearerAuth: [] }]

export function userRoutes(app: FastifyInstance): void {
  app.get<{ Params: UserParams }>(
    '/users/:userId/export',
    {
      config: { scope: 'admin' },
      schema: {
        summary: "Export a user's sessions and turns as JSON lines (admin key)",
        description:
          'One JSON object a line (application/x-ndjson): {"type":"session",...} followed by that session\'s ' +
          '{"type":"turn",...} lines, oldest first, with the fields of the API and tenantId; the format of ' +
          '`robot-brain-db export`. Empty when the user has no sessions. Recorded in the audit log.',
        tags: ['security'],
        security,
        params: UserParams,
        produces: ['application/x-ndjson'],
        response: {
          200: {
            description: 'JSON lines.',
            content: { 'application/x-ndjson': { schema: { type: 'string' } } },
          },
          ...errorResponses(),
        },
      },
    },
    async (request, reply) => {
      const records = await request.tenantStore.users.export(request.params.userId)
      const lines = (async function* () {
        for await (const r of records) yield `${JSON.stringify(r)}\n`
      })()
      return reply.type('application/x-ndjson; charset=utf-8').send(Readable.from(lines))
    },
  )

  app.delete<{ Params: UserParams }>(
    '/users/:userId',
    {
      config: { scope: 'admin' },
      schema: {
        summary: "Erase a user's sessions, turns, embeddings and rollup contributions (admin key)",
        description:
          'Idempotent: erasing again answers 200 with zero counts. Recorded in the audit log with counts, ' +
          'never content.',
        tags: ['security'],
        security,
        params: UserParams,
        response: { 200: UserErasure, ...errorResponses() },
      },
    },
    (request) => request.tenantStore.users.erase(request.params.userId),
  )
}
