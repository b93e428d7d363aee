// Property-based tests over the HTTP API on a real server: random valid and invalid requests by keys
// of two tenants and three scopes. Invariants: no 5xx; no answer holds the other tenant's data; every
// 2xx turn write is readable afterwards; every 4xx names a field or a reason; no request beyond its
// key's scope changes anything.
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type CreatedKey, type KeyScope, KeyStore } from '../../src/keys/keys.js'
import { newId, OPEN_TIMEOUT_MS, type Server, startServer } from '../http/support.js'
import { backendName } from '../support/backend.js'

const TENANTS = ['alpha', 'beta'] as const
type Tenant = (typeof TENANTS)[number]
const SCOPES: KeyScope[] = ['read', 'write', 'admin']

interface Req {
  tenant: Tenant
  scope: KeyScope
  method: string
  path: string
  body?: unknown
  /** A turn write whose id the test checks afterwards. */
  turnId?: string
  sessionId?: string
}

/** Session ids: a few shared by both tenants (the same id must stay apart), and invalid ones. */
const sessionId = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('s1', 's2', 's3') },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(101), 'bad\u0001id', 'ok%2Fslash') },
)
const text = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('nul\u0000here', 'x'.repeat(100_001)) },
)

function request(tenant: Tenant, scope: KeyScope): fc.Arbitrary<Req> {
  const base = { tenant, scope }
  // Each tenant writes a marker the other must never see.
  const marker = `${tenant}-secret`
  const turn = fc
    .record({
      sessionId,
      robotPersonality: fc.oneof(fc.constantFrom('calm', 'cheerful'), fc.constantFrom('', 'p'.repeat(51))),
      userMessage: text,
      robotResponse: fc.option(text, { nil: undefined }),
      metadata: fc.option(
        fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
        {
          nil: undefined,
        },
      ),
      extra: fc.option(fc.constantFrom({ robot_response: 'typo' }, { id: 'not-a-uuid' }), { nil: undefined }),
      userId: fc.option(fc.constantFrom(`${tenant}-user`, 'shared-user'), { nil: undefined }),
    })
    .map((t): Req => {
      const id = newId()
      const body = {
        robotPersonality: t.robotPersonality,
        userMessage: `${marker} ${t.userMessage}`,
        ...(t.robotResponse === undefined ? {} : { robotResponse: t.robotResponse }),
        ...(t.metadata === undefined ? {} : { metadata: t.metadata }),
        ...(t.userId === undefined ? {} : { userId: t.userId }),
        id,
        ...(t.extra ?? {}),
      }
      return {
        ...base,
        method: 'POST',
        path: `/v1/sessions/${encodeURIComponent(t.sessionId)}/turns`,
        body,
        turnId: id,
        sessionId: t.sessionId,
      }
    })
  const sid = sessionId.map(encodeURIComponent)
  return fc.oneof(
    { weight: 5, arbitrary: turn },
    sid.map((s): Req => ({ ...base, method: 'GET', path: `/v1/sessions/${s}/turns?limit=50` })),
    sid.map((s): Req => ({ ...base, method: 'GET', path: `/v1/sessions/${s}` })),
    fc.constant<Req>({ ...base, method: 'GET', path: '/v1/sessions?limit=50' }),
    fc
      .tuple(sid, fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }))
      .map(
        ([s, m]): Req => ({ ...base, method: 'PATCH', path: `/v1/sessions/${s}`, body: { userMetadata: m } }),
      ),
    sid.map(
      (s): Req => ({ ...base, method: 'PUT', path: `/v1/sessions/${s}`, body: { userId: `${tenant}-user` } }),
    ),
    sid.map((s): Req => ({ ...base, method: 'DELETE', path: `/v1/sessions/${s}` })),
    fc.integer({ min: -5, max: 5_000 }).map(
      (d): Req => ({
        ...base,
        method: 'POST',
        path: '/v1/interactions',
        body: {
          events: [{ robotId: `${tenant}-robot`, interactionType: 'wave', durationMs: d, success: true }],
        },
      }),
    ),
    fc
      .string({ maxLength: 20 })
      .map(
        (q): Req => ({ ...base, method: 'GET', path: `/v1/search?q=${encodeURIComponent(q)}&mode=fulltext` }),
      ),
    fc.constant<Req>({ ...base, method: 'GET', path: '/v1/audit?limit=20' }),
    fc
      .constantFrom(`${tenant}-user`, 'shared-user')
      .map((u): Req => ({ ...base, method: 'GET', path: `/v1/users/${u}/export` })),
    fc
      .constantFrom(`${tenant}-user`, 'shared-user')
      .map((u): Req => ({ ...base, method: 'DELETE', path: `/v1/users/${u}` })),
    fc.constant<Req>({ ...base, method: 'GET', path: '/v1/keys' }),
    fc.constant<Req>({ ...base, method: 'DELETE', path: `/v1/keys/${newId()}` }),
    fc.constant<Req>({ ...base, method: 'POST', path: '/v1/sessions/s1/turns', body: '{"not json' }),
  )
}

const anyRequest = fc
  .tuple(fc.constantFrom(...TENANTS), fc.constantFrom(...SCOPES))
  .chain(([tenant, scope]) => request(tenant, scope))

/** The scope a request needs (the server's rule, restated). */
function needs(r: Req): KeyScope {
  if (/^\/v1\/(users|audit|keys)\b/.test(r.path)) return 'admin'
  if (r.method === 'GET' || (r.method === 'POST' && r.path.startsWith('/v1/search'))) return 'read'
  return 'write'
}

const allows = (has: KeyScope, want: KeyScope) => SCOPES.indexOf(has) >= SCOPES.indexOf(want)

describe(`properties of the HTTP API (${backendName()})`, () => {
  let server: Server
  const keys = new Map<string, CreatedKey>()
  beforeAll(async () => {
    server = await startServer('security_props')
    const store = new KeyStore(server.store.transport.owner)
    for (const t of TENANTS)
      for (const s of SCOPES) keys.set(`${t}/${s}`, await store.create(t, `${t} ${s}`, { scope: s }))
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  /** Everything of the tenants' data a request could change (not the audit log, which refusals add to). */
  async function snapshot(): Promise<string> {
    const { rows } = await server.store.transport.owner.query<{ s: string }>(
      `SELECT concat_ws('|',
         (SELECT md5(coalesce(string_agg(concat_ws(',', tenant_id, id, user_id, user_metadata::text, message_count), ';' ORDER BY tenant_id, id), '')) FROM robot_brain.sessions),
         (SELECT md5(coalesce(string_agg(concat_ws(',', tenant_id, id::text, robot_response, metadata::text), ';' ORDER BY tenant_id, id), '')) FROM robot_brain.conversations),
         (SELECT count(*) FROM robot_brain.robot_interactions),
         (SELECT count(*) FROM robot_brain.api_keys WHERE revoked_at IS NULL)) AS s`,
    )
    return rows[0]?.s ?? ''
  }

  it(
    'holds its invariants over random requests of two tenants and three scopes',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(anyRequest, { minLength: 1, maxLength: 12 }), async (requests) => {
          for (const r of requests) {
            const key = keys.get(`${r.tenant}/${r.scope}`) as CreatedKey
            const beyond = !allows(r.scope, needs(r))
            const before = beyond ? await snapshot() : ''
            const res = await server.call(r.method, r.path, { key: key.key, body: r.body })
            const what = `${r.tenant}/${r.scope} ${r.method} ${r.path} -> ${res.status} ${res.text.slice(0, 300)}`
            expect(res.status, what).toBeLessThan(500)
            const other = TENANTS.find((t) => t !== r.tenant)
            expect(res.text.includes(`${other}-secret`), what).toBe(false)
            expect(res.text.includes(`${other}-user`), what).toBe(false)
            expect(res.text.includes(`${other}-robot`), what).toBe(false)
            if (res.status >= 400) {
              expect(typeof res.body?.error?.code, what).toBe('string')
              expect(String(res.body?.error?.message ?? '').length, what).toBeGreaterThan(10)
              if (res.status === 400 && res.body.error.code === 'validation_failed') {
                // "field: what is wrong"
                expect(res.body.error.message, what).toMatch(/^[A-Za-z][\w.[\]]*[: ]/)
              }
            }
            if (beyond) {
              // 403, or 404 for a path no route matches (an empty session id): refused before any
              // handler either way, and nothing changes.
              const noRoute = res.status === 404 && /^no route /.test(res.body?.error?.message ?? '')
              if (!noRoute) expect(res.status, what).toBe(403)
              expect(await snapshot(), what).toBe(before)
            } else {
              expect(res.status, what).not.toBe(403)
            }
            if (r.turnId && r.sessionId && (res.status === 201 || res.status === 200)) {
              const read = keys.get(`${r.tenant}/read`) as CreatedKey
              const page = await server.call(
                'GET',
                `/v1/sessions/${encodeURIComponent(r.sessionId)}/turns?limit=200`,
                {
                  key: read.key,
                },
              )
              expect(page.status, what).toBe(200)
              expect(
                page.body.turns.some((t: { id: string }) => t.id === r.turnId),
                what,
              ).toBe(true)
            }
          }
        }),
        { numRuns: backendName() === 'pglite' ? 15 : 30, endOnFailure: true },
      )
    },
    OPEN_TIMEOUT_MS,
  )
})
