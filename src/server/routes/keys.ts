// /v1/keys: an admin key manages its tenant's keys (create, list, revoke) while the server runs, the
// embedded one included (whose data directory the command line cannot open meanwhile).
import type { FastifyInstance } from 'fastify'
import { KeyStore } from '../../keys/keys.js'
import type { KeyLookup } from '../../keys/lookup.js'
import { errorResponses } from '../schemas.js'
import { CreatedApiKey, KeyCreateBody, KeyList, KeyParams, RevokedApiKey } from '../security-schemas.js'

const security = [{ bearerAuth: [] }]

export function keyRoutes(app: FastifyInstance, lookup: KeyLookup): void {
  app.post<{ Body: KeyCreateBody }>(
    '/keys',
    {
      config: { scope: 'admin' },
      schema: {
        summary: "Create an API key for this key's tenant (admin key)",
        description:
          'The answer holds the key itself, this once; only its SHA-256 hash is stored. Recorded in the audit log.',
        tags: ['security'],
        security,
        body: KeyCreateBody,
        response: { 201: CreatedApiKey, ...errorResponses() },
      },
    },
    async (request, reply) => {
      const keys = new KeyStore(request.tenantStore.transport.owner)
      const created = await keys.create(request.auth.tenant, request.body.name ?? '', {
        scope: request.body.scope,
        actor: request.auth.actor,
      })
      lookup.clear()
      return reply.code(201).send(created)
    },
  )

  app.get(
    '/keys',
    {
      config: { scope: 'admin' },
      schema: {
        summary: "List this tenant's API keys, revoked ones included (admin key)",
        tags: ['security'],
        security,
        response: { 200: KeyList, ...errorResponses() },
      },
    },
    async (request) => ({
      keys: await new KeyStore(request.tenantStore.transport.owner).list(request.auth.tenant),
    }),
  )

  app.delete<{ Params: KeyParams }>(
    '/keys/:keyId',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Revoke an API key of this tenant (admin key)',
        description:
          'The key stops working within a second. Revoking a revoked key changes nothing (alreadyRevoked). ' +
          'Revoking the last key does not reopen anonymous access.',
        tags: ['security'],
        security,
        params: KeyParams,
        response: { 200: RevokedApiKey, ...errorResponses(404) },
      },
    },
    async (request) => {
      const keys = new KeyStore(request.tenantStore.transport.owner)
      const { key, alreadyRevoked } = await keys.revoke(request.params.keyId, {
        tenant: request.auth.tenant,
        actor: request.auth.actor,
      })
      lookup.clear()
      return { ...key, alreadyRevoked }
    },
  )
}
