// Finding 10: /metrics showed every tenant's request and row figures and the runtime's version to
// anyone. Now: open only in keyless loopback mode (to loopback names); once keys exist it needs the
// metrics token (ROBOT_BRAIN_METRICS_TOKEN) or lives on a separate metrics port.
import type { Server as HttpServer } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serveOptionsFromEnv } from '../../src/config.js'
import { KeyStore } from '../../src/keys/keys.js'
import { buildApp } from '../../src/server/app.js'
import { listenForMetrics } from '../../src/server/metrics-access.js'
import { backendName } from '../support/backend.js'
import { OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

const TOKEN = 'metrics-token-0123456789abcdef'

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers })
  return { status: res.status, text: await res.text(), headers: res.headers }
}

describe(`/metrics access (${backendName()})`, () => {
  let server: Server
  const extras: FastifyInstance[] = []
  const listeners: HttpServer[] = []
  beforeAll(async () => {
    server = await startServer('http_metrics_access', { app: { authCacheMs: 0 } })
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    for (const l of listeners) l.close()
    for (const a of extras) await a.close()
    await server?.cleanup()
  })

  async function extraApp(metrics: { token?: string; separatePort?: boolean }) {
    const app = await buildApp({
      store: server.store,
      logger: false,
      allowAnonymous: true,
      authCacheMs: 0,
      metrics,
    })
    extras.push(app)
    return app.listen({ port: 0, host: '127.0.0.1' })
  }

  it('is open while no key exists (loopback), as before', async () => {
    const r = await get(`${server.url}/metrics`)
    expect(r.status).toBe(200)
    expect(r.text).toContain('http_requests_total')
  })

  describe('once an API key exists', () => {
    let key: string
    beforeAll(async () => {
      key = (await new KeyStore(server.store.transport.owner).create('acme', 'metrics test')).key
    })

    it('refuses anonymous readers and tenant keys when no metrics token is configured', async () => {
      const anon = await get(`${server.url}/metrics`)
      expect(anon.status, anon.text).toBe(403)
      expect(anon.text).not.toContain('nodejs_version_info')
      expect(JSON.parse(anon.text).error.message).toMatch(/ROBOT_BRAIN_METRICS_TOKEN/)
      // A tenant's key must not read every tenant's figures.
      expect((await get(`${server.url}/metrics`, { authorization: `Bearer ${key}` })).status).toBe(403)
      // Liveness and readiness stay open.
      expect((await get(`${server.url}/healthz`)).status).toBe(200)
      expect((await get(`${server.url}/readyz`)).status).toBe(200)
    })

    it('with a metrics token: 401 without it or with another, 200 with it', async () => {
      const url = await extraApp({ token: TOKEN })
      const none = await get(`${url}/metrics`)
      expect(none.status).toBe(401)
      expect(none.headers.get('www-authenticate')).toBe('Bearer')
      expect((await get(`${url}/metrics`, { authorization: `Bearer ${key}` })).status).toBe(401)
      expect((await get(`${url}/metrics`, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401)
      const ok = await get(`${url}/metrics`, { authorization: `Bearer ${TOKEN}` })
      expect(ok.status).toBe(200)
      expect(ok.text).toContain('http_requests_total')
    })

    it('on a separate metrics port: served there (token if set), 404 on the API port', async () => {
      const url = await extraApp({ separatePort: true })
      const app = extras[extras.length - 1] as FastifyInstance
      expect((await get(`${url}/metrics`, { authorization: `Bearer ${TOKEN}` })).status).toBe(404)
      const open = await listenForMetrics(app.robotBrain.registry, { port: 0, host: '127.0.0.1' })
      listeners.push(open)
      const openPort = (open.address() as { port: number }).port
      const r = await get(`http://127.0.0.1:${openPort}/metrics`)
      expect(r.status).toBe(200)
      expect(r.text).toContain('http_requests_total')
      expect((await get(`http://127.0.0.1:${openPort}/v1/sessions`)).status).toBe(404)

      const guarded = await listenForMetrics(app.robotBrain.registry, {
        port: 0,
        host: '127.0.0.1',
        token: TOKEN,
      })
      listeners.push(guarded)
      const guardedUrl = `http://127.0.0.1:${(guarded.address() as { port: number }).port}/metrics`
      expect((await get(guardedUrl)).status).toBe(401)
      expect((await get(guardedUrl, { authorization: `Bearer ${TOKEN}` })).status).toBe(200)
    })
  })

  it('reads its configuration from the environment and refuses a weak token', () => {
    const env = serveOptionsFromEnv({ ROBOT_BRAIN_METRICS_TOKEN: TOKEN, ROBOT_BRAIN_METRICS_PORT: '9464' })
    expect(env).toMatchObject({ metricsToken: TOKEN, metricsPort: 9464 })
    expect(() => serveOptionsFromEnv({ ROBOT_BRAIN_METRICS_TOKEN: 'short' })).toThrow(/at least 16/)
    expect(() => serveOptionsFromEnv({ ROBOT_BRAIN_METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/)
  })
})
