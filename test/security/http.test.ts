// Scoped keys, keys over HTTP, the last key's revocation, per-key rate limits, security headers and
// CORS, and per-user export and erasure, against a real server on the backend under test.
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CreatedKey, KeyStore } from '../../src/keys/keys.js'
import { type AppOptions, buildApp } from '../../src/server/app.js'
import { newId, OPEN_TIMEOUT_MS, type Server, startServer } from '../http/support.js'
import { backendName } from '../support/backend.js'

const turn = (extra: Record<string, unknown> = {}) => ({
  robotPersonality: 'calm',
  userMessage: 'my private words',
  robotResponse: 'noted',
  ...extra,
})

/** Polls until `fn` returns a truthy value (audit entries of refusals are written after the answer). */
async function eventually<T>(fn: () => Promise<T | undefined | false>, ms = 5_000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe(`security over HTTP (${backendName()})`, () => {
  let server: Server
  let keys: KeyStore
  let read: CreatedKey
  let write: CreatedKey
  let admin: CreatedKey
  let other: CreatedKey
  const extra: FastifyInstance[] = []

  beforeAll(async () => {
    server = await startServer('security_http', { app: { authCacheMs: 0 } })
    keys = new KeyStore(server.store.transport.owner)
    read = await keys.create('acme', 'reader', { scope: 'read' })
    write = await keys.create('acme', 'writer')
    admin = await keys.create('acme', 'admin', { scope: 'admin' })
    other = await keys.create('globex', 'globex admin', { scope: 'admin' })
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    for (const app of extra) await app.close()
    await server?.cleanup()
  })

  async function extraApp(options: Partial<AppOptions>): Promise<string> {
    const app = await buildApp({ store: server.store, logger: false, authCacheMs: 0, ...options })
    extra.push(app)
    return app.listen({ port: 0, host: '127.0.0.1' })
  }

  const acmeRows = async (sql: string) =>
    (await server.store.transport.owner.query<{ n: number }>(sql)).rows[0]?.n

  describe('scopes', () => {
    it('a write key (the default, as every older key) writes and reads, and is refused admin routes', async () => {
      expect(write.scope).toBe('write')
      expect(
        (await server.call('POST', '/v1/sessions/s-1/turns', { key: write.key, body: turn() })).status,
      ).toBe(201)
      expect((await server.call('GET', '/v1/sessions/s-1', { key: write.key })).status).toBe(200)
      for (const [method, path] of [
        ['GET', '/v1/audit'],
        ['GET', '/v1/keys'],
        ['POST', '/v1/keys'],
        ['GET', '/v1/users/u-1/export'],
        ['DELETE', '/v1/users/u-1'],
      ] as const) {
        const res = await server.call(method, path, {
          key: write.key,
          body: method === 'POST' ? {} : undefined,
        })
        expect(res.status, `${method} ${path}`).toBe(403)
        expect(res.body.error.message).toMatch(/scope "write".*needs "admin"/)
      }
    })

    it('a read key reads (GET, POST /v1/search) and changes nothing beyond its scope', async () => {
      await server.call('PUT', '/v1/sessions/s-2', { key: write.key, body: { userId: 'u-keep' } })
      expect((await server.call('GET', '/v1/sessions', { key: read.key })).status).toBe(200)
      expect(
        (await server.call('POST', '/v1/search', { key: read.key, body: { q: 'words', mode: 'fulltext' } }))
          .status,
      ).toBe(200)
      const before = await acmeRows(
        "SELECT (SELECT count(*) FROM robot_brain.conversations WHERE tenant_id = 'acme') + (SELECT count(*) FROM robot_brain.sessions WHERE tenant_id = 'acme') AS n",
      )
      const attempts = [
        ['POST', '/v1/sessions/s-3/turns', turn()],
        ['PUT', '/v1/sessions/s-3', {}],
        ['PATCH', '/v1/sessions/s-1', { userMetadata: { x: 1 } }],
        ['DELETE', '/v1/sessions/s-1', undefined],
        [
          'POST',
          '/v1/interactions',
          { events: [{ robotId: 'r', interactionType: 'wave', durationMs: 1, success: true }] },
        ],
        ['DELETE', '/v1/users/u-keep', undefined],
        ['POST', '/v1/keys', { scope: 'admin' }],
      ] as const
      for (const [method, path, body] of attempts) {
        const res = await server.call(method, path, { key: read.key, body })
        expect(res.status, `${method} ${path}`).toBe(403)
        expect(res.body.error.code).toBe('forbidden')
      }
      const after = await acmeRows(
        "SELECT (SELECT count(*) FROM robot_brain.conversations WHERE tenant_id = 'acme') + (SELECT count(*) FROM robot_brain.sessions WHERE tenant_id = 'acme') AS n",
      )
      expect(after).toEqual(before)
      expect((await server.call('GET', '/v1/sessions/s-1', { key: read.key })).body.userMetadata).toEqual({})
      expect(await acmeRows('SELECT count(*)::int AS n FROM robot_brain.robot_interactions')).toBe(0)
      expect((await keys.list('acme')).length).toBe(3)
      // The denials are in acme's audit log, with the key as the actor.
      const denied = await eventually(async () => {
        const events = (await server.call('GET', '/v1/audit?limit=1000', { key: admin.key })).body
          .events as Array<{
          actor: string
          action: string
          target: string
        }>
        const mine = events.filter((e) => e.action === 'scope.denied' && e.actor === `key:${read.id}`)
        return mine.length >= attempts.length && mine
      })
      expect(denied.map((e) => e.target)).toContain('DELETE /v1/sessions/:sessionId')
    })

    it('records authentication failures, sampled, in the system chain (never the key itself)', async () => {
      const bogus = `rbdb_${'A'.repeat(43)}`
      for (let i = 0; i < 15; i++) {
        expect((await server.call('GET', '/v1/sessions', { key: bogus })).status).toBe(401)
      }
      const rows = await eventually(async () => {
        const r = await server.store.transport.owner.query<{ details: { keyPrefix?: string } }>(
          "SELECT details FROM robot_brain.audit_log WHERE tenant_id = '*' AND action = 'auth.failed'",
        )
        return r.rows.length >= 10 && r.rows
      })
      // At most 10 a minute per address: a flood costs a few rows.
      expect(rows.length).toBe(10)
      expect(rows[0]?.details.keyPrefix).toBe(bogus.slice(0, 11))
      expect(JSON.stringify(rows)).not.toContain(bogus)
    })
  })

  describe('keys over HTTP', () => {
    it("an admin key creates, lists and revokes its own tenant's keys, and no other's", async () => {
      const created = await server.call('POST', '/v1/keys', {
        key: admin.key,
        body: { scope: 'read', name: 'dash' },
      })
      expect(created.status, created.text).toBe(201)
      expect(created.body).toMatchObject({ tenant: 'acme', scope: 'read', name: 'dash', revokedAt: null })
      expect((await server.call('GET', '/v1/sessions', { key: created.body.key })).status).toBe(200)

      const list = await server.call('GET', '/v1/keys', { key: admin.key })
      expect(list.status).toBe(200)
      expect(list.body.keys.every((k: { tenant: string }) => k.tenant === 'acme')).toBe(true)
      expect(list.body.keys.map((k: { id: string }) => k.id)).toContain(created.body.id)
      expect(JSON.stringify(list.body)).not.toContain(created.body.key)

      // globex's admin cannot see or revoke acme's key.
      expect((await server.call('DELETE', `/v1/keys/${created.body.id}`, { key: other.key })).status).toBe(
        404,
      )
      const revoked = await server.call('DELETE', `/v1/keys/${created.body.id}`, { key: admin.key })
      expect(revoked.status).toBe(200)
      expect(revoked.body).toMatchObject({ id: created.body.id, alreadyRevoked: false })
      expect((await server.call('GET', '/v1/sessions', { key: created.body.key })).status).toBe(401)
      expect(
        (await server.call('DELETE', `/v1/keys/${created.body.id}`, { key: admin.key })).body.alreadyRevoked,
      ).toBe(true)
      expect(
        (await server.call('POST', '/v1/keys', { key: admin.key, body: { scope: 'root' } })).status,
      ).toBe(400)

      const audit = (await server.call('GET', '/v1/audit?limit=1000', { key: admin.key })).body
        .events as Array<{
        actor: string
        action: string
        target: string
      }>
      expect(
        audit.filter((e) => e.target === `key:${created.body.id}`).map((e) => [e.actor, e.action]),
      ).toEqual([
        [`key:${admin.id}`, 'key.create'],
        [`key:${admin.id}`, 'key.revoke'],
      ])
      const doc = (await server.call('GET', '/openapi.json')).body
      for (const path of [
        '/v1/keys',
        '/v1/keys/{keyId}',
        '/v1/audit',
        '/v1/users/{userId}/export',
        '/v1/users/{userId}',
      ]) {
        expect(doc.paths[path], path).toBeDefined()
      }
    })

    it(
      'revoking the last key keeps the server closed (anonymous access does not come back by itself)',
      async () => {
        const fresh = await startServer('security_lastkey', { app: { authCacheMs: 0 } })
        try {
          // Keyless loopback: the local operator acts as "default" with every scope, and makes the first key.
          const first = await fresh.call('POST', '/v1/keys', { body: { scope: 'admin', name: 'first' } })
          expect(first.status, first.text).toBe(201)
          expect(first.body.tenant).toBe('default')
          expect((await fresh.call('GET', '/v1/sessions')).status).toBe(401)
          // The last key revokes itself.
          const gone = await fresh.call('DELETE', `/v1/keys/${first.body.id}`, { key: first.body.key })
          expect(gone.status).toBe(200)
          const closed = await fresh.call('GET', '/v1/sessions')
          expect(closed.status).toBe(401)
          expect(closed.body.error.message).toMatch(/revoked/)
          expect((await fresh.call('POST', '/v1/sessions/x/turns', { body: turn() })).status).toBe(401)
        } finally {
          await fresh.cleanup()
        }
      },
      OPEN_TIMEOUT_MS,
    )
  })

  describe('limits and headers', () => {
    it('limits requests per key: 429 with Retry-After, other keys unaffected', async () => {
      const url = await extraApp({ rateLimit: { max: 3, timeWindowMs: 60_000 } })
      const get = (key: string) =>
        fetch(`${url}/v1/sessions`, { headers: { authorization: `Bearer ${key}` } })
      for (let i = 0; i < 3; i++) expect((await get(read.key)).status).toBe(200)
      const limited = await get(read.key)
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(((await limited.json()) as { error: { code: string } }).error.code).toBe('too_many_requests')
      expect((await get(write.key)).status).toBe(200)
    })

    it('sends security headers, and the dashboard and API browser keep CSPs that let them load', async () => {
      const api = await server.call('GET', '/v1/sessions', { key: read.key })
      expect(api.headers.get('x-content-type-options')).toBe('nosniff')
      expect(api.headers.get('x-frame-options')).toBe('SAMEORIGIN')
      expect(api.headers.get('content-security-policy')).toMatch(/default-src 'none'/)
      expect(api.headers.get('access-control-allow-origin')).toBeNull()

      const dash = await fetch(`${server.url}/`)
      expect(dash.status).toBe(200)
      const html = await dash.text()
      const csp = dash.headers.get('content-security-policy') ?? ''
      // The page loads its script and style files from this origin: nothing inline, no eval.
      expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/)
      expect(html).not.toMatch(/<style|\sstyle=/)
      expect(csp).toContain("script-src 'self'")
      expect(csp).toContain("style-src 'self'")
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/)
      expect(csp).toContain("connect-src 'self'")
      expect(dash.headers.get('x-content-type-options')).toBe('nosniff')

      const docs = await fetch(`${server.url}/docs/static/index.html`)
      expect(docs.status).toBe(200)
      const docsCsp = docs.headers.get('content-security-policy') ?? ''
      expect(docsCsp).toMatch(/script-src 'self'/)
      expect(docsCsp).not.toMatch(/upgrade-insecure-requests/)
    })

    it('answers CORS only for configured origins', async () => {
      const preflight = (url: string) =>
        fetch(`${url}/v1/sessions`, {
          method: 'OPTIONS',
          headers: {
            origin: 'https://app.example.com',
            'access-control-request-method': 'GET',
            'access-control-request-headers': 'authorization',
          },
        })
      expect((await preflight(server.url)).headers.get('access-control-allow-origin')).toBeNull()
      const url = await extraApp({ corsOrigins: ['https://app.example.com'] })
      const res = await preflight(url)
      expect(res.status).toBeLessThan(300)
      expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example.com')
      const get = await fetch(`${url}/v1/sessions`, {
        headers: { origin: 'https://evil.example.com', authorization: `Bearer ${read.key}` },
      })
      expect(get.headers.get('access-control-allow-origin')).toBeNull()
    })
  })

  describe('users', () => {
    it('exports a user as JSON lines and erases them with embeddings and rollup contributions, idempotently', async () => {
      const acme = server.store.tenant('acme')
      const vector = Array.from({ length: 8 }, (_, i) => i + 1)
      for (const [sid, user] of [
        ['ada-1', 'ada'],
        ['ada-2', 'ada'],
        ['bob-1', 'bob'],
      ] as const) {
        for (let i = 0; i < 3; i++) {
          await acme.recordTurn({
            ...turn({ userMessage: `${user} says ${i}` }),
            sessionId: sid,
            userId: user,
            id: newId(),
            embedding: { model: 'test-model', vector },
          })
        }
      }
      const exported = await server.call('GET', '/v1/users/ada/export', { key: admin.key })
      expect(exported.status).toBe(200)
      expect(exported.headers.get('content-type')).toMatch(/application\/x-ndjson/)
      const lines = exported.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
      expect(
        lines
          .filter((l) => l.type === 'session')
          .map((l) => l.id)
          .sort(),
      ).toEqual(['ada-1', 'ada-2'])
      expect(lines.filter((l) => l.type === 'turn')).toHaveLength(6)
      expect(lines.every((l) => l.tenantId === 'acme')).toBe(true)
      expect(exported.text).not.toContain('bob says')
      // Another tenant's admin sees nothing of acme's user.
      expect((await server.call('GET', '/v1/users/ada/export', { key: other.key })).text).toBe('')

      const count = async (sql: string) =>
        Number((await server.store.transport.owner.query<{ n: string }>(sql)).rows[0]?.n)
      const adaTurns =
        "SELECT id FROM robot_brain.conversations WHERE tenant_id = 'acme' AND session_id IN ('ada-1', 'ada-2')"
      expect(
        await count(`SELECT count(*) AS n FROM robot_brain.embeddings WHERE turn_id IN (${adaTurns})`),
      ).toBe(6)

      const erased = await server.call('DELETE', '/v1/users/ada', { key: admin.key })
      expect(erased.status, erased.text).toBe(200)
      expect(erased.body).toMatchObject({ userId: 'ada', sessions: 2, turns: 6 })
      expect(
        await count(
          "SELECT count(*) AS n FROM robot_brain.sessions WHERE tenant_id = 'acme' AND user_id = 'ada'",
        ),
      ).toBe(0)
      expect(
        await count(
          "SELECT count(*) AS n FROM robot_brain.conversations WHERE tenant_id = 'acme' AND session_id LIKE 'ada-%'",
        ),
      ).toBe(0)
      expect(
        await count(
          "SELECT count(*) AS n FROM robot_brain.embeddings e WHERE e.tenant_id = 'acme' AND NOT EXISTS (SELECT FROM robot_brain.conversations c WHERE c.tenant_id = e.tenant_id AND c.id = e.turn_id)",
        ),
      ).toBe(0)
      expect(
        await count(
          "SELECT count(*) AS n FROM robot_brain.embedding_queue q WHERE q.tenant_id = 'acme' AND NOT EXISTS (SELECT FROM robot_brain.conversations c WHERE c.tenant_id = q.tenant_id AND c.id = q.turn_id)",
        ),
      ).toBe(0)
      // Rollups: nothing left of ada's sessions, and the tenant's totals still equal its turns.
      expect(
        await count(
          "SELECT count(*) AS n FROM robot_brain.personality_rollups WHERE tenant_id = 'acme' AND session_id LIKE 'ada-%'",
        ),
      ).toBe(0)
      expect(
        await count(
          "SELECT coalesce(sum(turns), 0) AS n FROM robot_brain.personality_rollups WHERE tenant_id = 'acme'",
        ),
      ).toBe(await count("SELECT count(*) AS n FROM robot_brain.conversations WHERE tenant_id = 'acme'"))
      // Bob is untouched.
      expect(
        (await server.call('GET', '/v1/sessions?userId=bob', { key: read.key })).body.sessions,
      ).toHaveLength(1)

      const again = await server.call('DELETE', '/v1/users/ada', { key: admin.key })
      expect(again.status).toBe(200)
      expect(again.body).toMatchObject({ userId: 'ada', sessions: 0, turns: 0 })
      expect((await server.call('GET', '/v1/users/ada/export', { key: admin.key })).text).toBe('')

      const audit = (await server.call('GET', '/v1/audit?limit=1000', { key: admin.key })).body
        .events as Array<{
        action: string
        target: string
        details: Record<string, unknown>
      }>
      const erasures = audit.filter((e) => e.action === 'user.erase')
      expect(erasures.map((e) => e.details)).toEqual([
        { sessions: 2, turns: 6 },
        { sessions: 0, turns: 0 },
      ])
      expect(audit.filter((e) => e.action === 'user.export').length).toBeGreaterThanOrEqual(2)
      expect(JSON.stringify(audit)).not.toContain('says')
    })

    it('refuses a bad user id with the field named', async () => {
      const res = await server.call('DELETE', `/v1/users/${'x'.repeat(101)}`, { key: admin.key })
      expect(res.status).toBe(400)
      expect(res.body.error.message).toMatch(/userId/)
    })
  })
})
