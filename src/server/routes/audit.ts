// GET /v1/audit: the tenant's audit log, oldest first (admin keys).
import type { FastifyInstance } from 'fastify'
import { errorResponses } from '../schemas.js'
import { AuditPage, AuditQuery } from '../security-schemas.js'

export function auditRoutes(app: FastifyInstance): void {
  app.get<{ Querystring: AuditQuery }>(
    '/audit',
    {
      config: { scope: 'admin' },
      schema: {
        summary: "The tenant's audit log (admin key)",
        description:
          'Entries oldest first: key creation and revocation, scope denials, session deletions, user ' +
          'exports and erasures, and more; never content. The log is a hash chain per tenant: ' +
          '`robot-brain-db audit verify` checks it.',
        tags: ['security'],
        security: [{ bearerAuth: [] }],
        querystring: AuditQuery,
        response: { 200: AuditPage, ...errorResponses() },
      },
    },
    (request) => request.tenantStore.audit.list(request.query),
  )
}
