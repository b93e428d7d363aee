// API keys and tenants over HTTP: anonymous access only while no key exists (and only on loopback),
// 401 for missing, malformed, unknown and revoked keys, and one tenant never seeing another's data.
// Without keys, only loopback Host names and Origins are served (no DNS rebinding, no cross-site calls).
import { createHash } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { NotFoundError } from '../../src/errors.js'
import { KeyStore } from '../../src/keys/keys.js'
import { buildApp } from '../../src/server/app.js'
import { isLoopbackHost } from '../../src/server/auth.js'
import { backendName } from '../support/backend.js'
import { newId, OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

const turn = { robotPersonality: 'calm', userMessage: 'hi', robotResponse: 'hello' }

/** A request with headers fetch() would not let us set (Host); a body makes it a POST. */
function rawGet(
  port: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: Number(port),
        path,
        method: payload ? 'POST' : 'GET',
        headers: payload ? { ...headers, 'content-type': 'application/json' } : headers,
      },
      (res) => {
        let text = ''
        res.on('data', (c) => {
          text += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
      },
    )
    req.on('error', reject)
    req.end(payload)
  })
}

describe(`API keys and tenants over HTTP (${backendName()})`, () => {
  let server: Server
  let keys: KeyStore
  beforeAll(async () => {
    // No lookup cache here, so each request sees key changes at once; the cache has its own test.
    server = await startServer('http_auth', { app: { authCacheMs: 0 } })
    keys = new KeyStore(server.store.transport.owner)
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  /** A second app on the same store, e.g. one that is not bound to loopback. */
  async function extraApp(options: {
    allowAnonymous: boolean
    allowAnonymousAfterKeys?: boolean
    authCacheMs?: number
  }) {
    const app: FastifyInstance = await buildApp({ store: server.store, logger: false, ...options })
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    return { app, url }
  }

  it('with no key, serves anonymous requests as tenant "default" on loopback only', async () => {
    const anon = await server.call('POST', '/v1/sessions/anon-1/turns', { body: turn })
    expect(anon.status, anon.text).toBe(201)
    const { rows } = await server.store.transport.owner.query<{ tenant_id: string }>({
      text: "SELECT tenant_id FROM robot_brain.sessions WHERE id = 'anon-1'",
    })
    expect(rows).toEqual([{ tenant_id: 'default' }])

    const exposed = await extraApp({ allowAnonymous: false })
    try {
      const res = await fetch(`${exposed.url}/v1/sessions`)
      expect(res.status).toBe(401)
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(body.error.code).toBe('unauthorized')
      expect(body.error.message).toMatch(/keys create/)
      // Operations endpoints need no key.
      expect((await fetch(`${exposed.url}/healthz`)).status).toBe(200)
    } finally {
      await exposed.app.close()
    }
  })

  it('without keys, refuses a DNS-rebinding Host and a cross-site Origin (finding 5)', async () => {
    const { port } = new URL(server.url)
    // The attack: a page on attacker.example rebinds its name to 127.0.0.1 and calls the API.
    const rebound = await rawGet(port, '/v1/sessions', { host: `attacker.example:${port}` })
    expect(rebound.status, rebound.text).toBe(403)
    expect(JSON.parse(rebound.text).error.code).toBe('forbidden')
    const post = await rawGet(port, '/v1/sessions/rebound/turns', { host: `attacker.example:${port}` }, turn)
    expect(post.status).toBe(403)
    const crossSite = await rawGet(port, '/v1/sessions', {
      host: `127.0.0.1:${port}`,
      origin: 'https://attacker.example',
    })
    expect(crossSite.status, crossSite.text).toBe(403)
    expect((await rawGet(port, '/v1/sessions', { host: `localhost:${port}`, origin: 'null' })).status).toBe(
      403,
    )
    // Nothing was written by the refused POST.
    expect((await server.call('GET', '/v1/sessions/rebound')).status).toBe(404)
    // Loopback names (with or without port, IPv6 included) and loopback origins are served.
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, '127.0.0.1', `[::1]:${port}`]) {
      const ok = await rawGet(port, '/v1/sessions', { host, origin: `http://localhost:${port}` })
      expect(ok.status, `${host}: ${ok.text}`).toBe(200)
    }
    // Liveness stays open to any Host.
    expect((await rawGet(port, '/healthz', { host: `attacker.example:${port}` })).status).toBe(200)
  })

  it('refuses a presented key that matches nothing, even while anonymous access is allowed', async () => {
    const wrong = await server.call('GET', '/v1/sessions', { key: `rbdb_${'A'.repeat(43)}` })
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer')
    const garbage = await server.call('GET', '/v1/sessions', { key: 'not-even-a-key' })
    expect(garbage.status).toBe(401)
    const basic = await server.call('GET', '/v1/sessions', {
      headers: { authorization: 'Basic dXNlcjpwdw==' },
    })
    expect(basic.status).toBe(401)
    expect(basic.body.error.message).toMatch(/Bearer/)
  })

  describe('once keys exist', () => {
    let acme: Awaited<ReturnType<KeyStore['create']>>
    let globex: Awaited<ReturnType<KeyStore['create']>>
    beforeAll(async () => {
      acme = await keys.create('acme', 'web app')
      globex = await keys.create('globex')
    })

    it('stores only a SHA-256 hash and a short prefix of each key', async () => {
      expect(acme.key).toMatch(/^rbdb_[A-Za-z0-9_-]{43}$/)
      const { rows } = await server.store.transport.owner.query<Record<string, unknown>>({
        text: "SELECT encode(key_hash, 'hex') AS hash, key_prefix, to_jsonb(k)::text AS everything FROM robot_brain.api_keys k WHERE id = $1",
        values: [acme.id],
      })
      const row = rows[0] as { hash: string; key_prefix: string; everything: string }
      expect(row.hash).toBe(createHash('sha256').update(acme.key).digest('hex'))
      expect(acme.key.startsWith(row.key_prefix)).toBe(true)
      expect(row.key_prefix.length).toBeLessThan(16)
      expect(row.everything).not.toContain(acme.key.slice(row.key_prefix.length))
      const listed = await keys.list()
      expect(listed.map((k) => k.id)).toEqual(expect.arrayContaining([acme.id, globex.id]))
      expect(JSON.stringify(listed)).not.toContain(acme.key)
      expect(listed.find((k) => k.id === acme.id)).toMatchObject({
        tenant: 'acme',
        name: 'web app',
        revokedAt: null,
      })
    })

    it('serves a keyed request whatever its Host: the key, not the name, is the protection', async () => {
      const { port } = new URL(server.url)
      const r = await rawGet(port, '/v1/sessions', {
        host: `api.example.com:${port}`,
        authorization: `Bearer ${acme.key}`,
      })
      expect(r.status, r.text).toBe(200)
    })

    it('requires a key: anonymous requests get 401 now', async () => {
      const anon = await server.call('GET', '/v1/sessions')
      expect(anon.status).toBe(401)
      expect(anon.body.error.message).toMatch(/API key is required/)
    })

    it("runs each request as its key's tenant: one tenant cannot see or touch another's session", async () => {
      const a = await server.call('POST', '/v1/sessions/shared-name/turns', { body: turn, key: acme.key })
      expect(a.status, a.text).toBe(201)
      expect((await server.call('GET', '/v1/sessions/shared-name', { key: acme.key })).status).toBe(200)

      // globex: the same session id does not exist for it...
      expect((await server.call('GET', '/v1/sessions/shared-name', { key: globex.key })).status).toBe(404)
      const history = await server.call('GET', '/v1/sessions/shared-name/turns', { key: globex.key })
      expect(history.body.turns).toEqual([])
      const list = await server.call('GET', '/v1/sessions', { key: globex.key })
      expect(list.body.sessions.map((s: { id: string }) => s.id)).not.toContain('shared-name')
      // ...nor can it change or delete acme's.
      expect((await server.call('DELETE', '/v1/sessions/shared-name', { key: globex.key })).status).toBe(404)
      const patch = await server.call('PATCH', '/v1/sessions/shared-name', {
        key: globex.key,
        body: { userMetadata: { owned: true } },
      })
      expect(patch.status).toBe(404)
      // The anonymous "default" session is invisible to both.
      expect((await server.call('GET', '/v1/sessions/anon-1', { key: acme.key })).status).toBe(404)

      // A turn replayed by id under another tenant is that tenant's own new turn, not acme's.
      const id = newId()
      await server.call('POST', '/v1/sessions/shared-name/turns', { body: { ...turn, id }, key: acme.key })
      const g = await server.call('POST', '/v1/sessions/shared-name/turns', {
        body: { ...turn, id, userMessage: 'globex text' },
        key: globex.key,
      })
      expect(g.status, g.text).toBe(201)
      expect(g.body.userMessage).toBe('globex text')

      const mine = await server.call('GET', '/v1/sessions/shared-name', { key: acme.key })
      expect(mine.body.messageCount).toBe(2)
      expect(mine.body.userMetadata).toEqual({})
    })

    it('records when a key was last used', async () => {
      const [info] = (await keys.list()).filter((k) => k.id === acme.id)
      expect(info?.lastUsedAt).toEqual(expect.any(String))
    })

    it('never lets the application role read the key table itself', async () => {
      await expect(
        server.store.transport.app.query('SELECT key_hash FROM robot_brain.api_keys'),
      ).rejects.toMatchObject({ code: '42501' })
    })

    it('stops a revoked key at once (no cache), and revoking twice changes nothing', async () => {
      const doomed = await keys.create('acme', 'doomed')
      expect((await server.call('GET', '/v1/sessions', { key: doomed.key })).status).toBe(200)
      const first = await keys.revoke(doomed.id)
      expect(first.alreadyRevoked).toBe(false)
      expect(first.key.revokedAt).toEqual(expect.any(String))
      const refused = await server.call('GET', '/v1/sessions', { key: doomed.key })
      expect(refused.status).toBe(401)
      expect(refused.body.error.message).toMatch(/revoked/)
      const second = await keys.revoke(doomed.id)
      expect(second).toEqual({ key: first.key, alreadyRevoked: true })
      await expect(keys.revoke(newId())).rejects.toBeInstanceOf(NotFoundError)
      // The other key of the same tenant still works.
      expect((await server.call('GET', '/v1/sessions', { key: acme.key })).status).toBe(200)
    })

    it('with the default 1 s lookup cache, a revoked key stops within about a second', async () => {
      const cached = await extraApp({ allowAnonymous: true })
      try {
        const soon = await keys.create('acme', 'cached')
        const get = () =>
          fetch(`${cached.url}/v1/sessions`, { headers: { authorization: `Bearer ${soon.key}` } })
        expect((await get()).status).toBe(200)
        await keys.revoke(soon.id)
        const revokedAt = Date.now()
        let status = 200
        while (status === 200 && Date.now() - revokedAt < 3_000) {
          status = (await get()).status
          if (status === 200) await new Promise((r) => setTimeout(r, 50))
        }
        expect(status).toBe(401)
        expect(Date.now() - revokedAt).toBeLessThan(1_500)
      } finally {
        await cached.app.close()
      }
    })

    it('when every key is revoked, the server stays closed unless anonymous access is allowed again', async () => {
      for (const k of await keys.list()) if (!k.revokedAt) await keys.revoke(k.id)
      const closed = await server.call('GET', '/v1/sessions')
      expect(closed.status).toBe(401)
      expect(closed.body.error.message).toMatch(/--allow-anonymous/)
      expect((await server.call('GET', '/v1/sessions', { key: acme.key })).status).toBe(401)
      const reopened = await extraApp({ allowAnonymous: true, allowAnonymousAfterKeys: true, authCacheMs: 0 })
      try {
        expect((await fetch(`${reopened.url}/v1/sessions`)).status).toBe(200)
      } finally {
        await reopened.app.close()
      }
    })
  })

  it('knows which listen addresses are loopback', () => {
    for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3', '::ffff:127.0.0.1']) {
      expect(isLoopbackHost(h), h).toBe(true)
    }
    for (const h of ['0.0.0.0', '::', '192.168.1.10', 'example.com', '10.0.0.1']) {
      expect(isLoopbackHost(h), h).toBe(false)
    }
  })
})
