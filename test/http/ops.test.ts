// The operations side over HTTP: liveness, readiness (and when it fails), metrics, the OpenAPI
// document (validated by a real OpenAPI validator, and complete), /docs, the dashboard, and a
// graceful shutdown that lets a request in flight finish.
import { request as httpRequest } from 'node:http'
import { compileErrors, validate } from '@readme/openapi-parser'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shutdown } from '../../src/server/shutdown.js'
import { backendName } from '../support/backend.js'
import { OPEN_TIMEOUT_MS, type Server, startServer } from './support.js'

describe(`operations endpoints (${backendName()})`, () => {
  let server: Server
  beforeAll(async () => {
    server = await startServer('http_ops')
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  it('answers /healthz and /readyz', async () => {
    const health = await server.call('GET', '/healthz')
    expect(health.status).toBe(200)
    expect(health.body).toEqual({ status: 'ok' })
    const ready = await server.call('GET', '/readyz')
    expect(ready.status, ready.text).toBe(200)
    expect(ready.body).toEqual({ status: 'ready' })
  })

  it('serves an OpenAPI document that a validator accepts and that lists every route', async () => {
    const res = await server.call('GET', '/openapi.json')
    expect(res.status).toBe(200)
    const doc = res.body
    expect(doc.openapi).toMatch(/^3\.1\./)
    // validate() may change what it is given: hand it a copy.
    const result = await validate(structuredClone(doc))
    expect(result.valid, result.valid ? '' : compileErrors(result)).toBe(true)

    const documented = new Set<string>()
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path}`)
    }
    const routes = server.app.robotBrain.routes.filter(
      (r) => !r.hidden && r.method !== 'HEAD' && !r.url.startsWith('/docs'),
    )
    expect(routes.length).toBeGreaterThan(10)
    for (const r of routes) {
      const path = r.url.replace(/:(\w+)/g, '{$1}')
      expect(documented, `${r.method} ${path}`).toContain(`${r.method} ${path}`)
    }
    // The contract's routes are among them.
    for (const route of [
      'POST /v1/sessions/{sessionId}/turns',
      'GET /v1/sessions/{sessionId}/turns',
      'GET /v1/sessions/{sessionId}',
      'PATCH /v1/sessions/{sessionId}',
      'DELETE /v1/sessions/{sessionId}',
      'GET /v1/sessions',
      'POST /v1/interactions',
      'GET /v1/search',
      'POST /v1/search',
      'GET /v1/sessions/{sessionId}/context',
      'GET /v1/analytics/personalities',
      'GET /v1/analytics/interactions',
      'GET /healthz',
      'GET /readyz',
      'GET /metrics',
      'GET /openapi.json',
      'GET /',
    ]) {
      expect(documented, route).toContain(route)
    }
    // The limits come from the same schemas that validate requests.
    const body =
      doc.paths['/v1/sessions/{sessionId}/turns'].post.requestBody.content['application/json'].schema
    expect(body.properties.userMessage.maxLength).toBe(100_000)
    expect(body.additionalProperties).toBe(false)
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' })
  })

  it('serves Swagger UI at /docs and a dashboard at /', async () => {
    const docs = await fetch(`${server.url}/docs`)
    expect(docs.status).toBe(200)
    const html = await docs.text()
    expect(html.toLowerCase()).toContain('swagger')

    const home = await fetch(`${server.url}/`)
    expect(home.status).toBe(200)
    expect(home.headers.get('content-type')).toMatch(/^text\/html/)
    expect(home.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
    const page = await home.text()
    expect(page).toContain('Robot Brain DB')
    expect(page).toContain('src="/dashboard/app.js"')
    // Its files, the charting library's among them; nothing else of the disk.
    for (const file of ['app.js', 'style.css', 'vendor/uPlot.esm.js']) {
      const res = await fetch(`${server.url}/dashboard/${file}`)
      expect(res.status, file).toBe(200)
      expect(res.headers.get('content-type'), file).toMatch(/^text\/(javascript|css)/)
      // Read every body: one left unread (uPlot is large) keeps its connection busy, and closing the
      // server then waits for it for good.
      expect((await res.text()).length, file).toBeGreaterThan(0)
    }
    for (const path of ['/dashboard/nope.js', '/dashboard/%2e%2e/package.json', '/dashboard/']) {
      const res = await fetch(`${server.url}${path}`)
      expect(res.status, path).toBe(404)
      await res.arrayBuffer()
    }
  })

  it('counts requests by route template and status in /metrics', async () => {
    await server.call('GET', '/v1/sessions/metric-probe-123')
    await server.call('GET', '/no/such/path/unmatched-probe-4242')
    const res = await fetch(`${server.url}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(text).toMatch(
      /http_requests_total\{method="GET",route="\/v1\/sessions\/:sessionId",status="404"\} [1-9]/,
    )
    expect(text).toMatch(/http_request_duration_seconds_bucket\{.*route="\/v1\/sessions\/:sessionId"/)
    expect(text).toMatch(/route="unmatched",status="404"/)
    // Raw paths never become labels.
    expect(text).not.toContain('metric-probe-123')
    // (A path word, not a bare number: a number can be part of any metric's value.)
    expect(text).not.toContain('unmatched-probe')
    expect(text).toContain('process_cpu_seconds_total')
  })

  it('exports the connection retries and give-ups of the store in /metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    expect(text).toContain('# TYPE robot_brain_db_retries_total counter')
    // Nothing failed in this file's run: no operation gave up.
    expect(text).toMatch(/^robot_brain_db_retry_give_ups_total 0$/m)
  })

  it(
    'lets a request in flight finish on shutdown, then refuses new connections',
    async () => {
      const own = await startServer('http_shutdown')
      try {
        const { port } = new URL(own.url)
        const body = JSON.stringify({ robotPersonality: 'p', userMessage: 'slow', robotResponse: 'r' })
        const half = Math.floor(body.length / 2)
        // Send half a body, start the shutdown, then send the rest: the turn must still be stored.
        const response = new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = httpRequest(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: '/v1/sessions/in-flight/turns',
              headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
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
          req.write(body.slice(0, half))
          setTimeout(() => req.end(body.slice(half)), 300)
        })
        await new Promise((r) => setTimeout(r, 100))
        const t0 = Date.now()
        const stopping = shutdown(own.app, own.store, { timeoutMs: 10_000 })
        expect(own.app.robotBrain.draining).toBe(true)
        const done = await response
        expect(done.status, done.text).toBe(201)
        expect(await stopping).toBe(true)
        // Keep-alive connections do not hold the shutdown open.
        expect(Date.now() - t0).toBeLessThan(5_000)
        await expect(fetch(`${own.url}/healthz`)).rejects.toThrow()

        // The turn was committed before the store closed.
        await own.restart()
        const page = await own.call('GET', '/v1/sessions/in-flight/turns')
        expect(page.body.turns.map((t: { userMessage: string }) => t.userMessage)).toEqual(['slow'])
      } finally {
        await own.cleanup()
      }
    },
    OPEN_TIMEOUT_MS,
  )
})

describe(`readiness on a database that is not migrated (${backendName()})`, () => {
  let server: Server
  beforeAll(async () => {
    server = await startServer('http_unmigrated', { migrate: false })
  }, OPEN_TIMEOUT_MS)
  afterAll(async () => {
    await server?.cleanup()
  })

  it('answers 503 on /readyz and on /v1 routes (with Retry-After), 200 on /healthz', async () => {
    const ready = await server.call('GET', '/readyz')
    expect(ready.status).toBe(503)
    expect(ready.body.error.code).toBe('not_ready')
    expect(ready.body.error.message).toMatch(/migrate/)
    const api = await server.call('GET', '/v1/sessions')
    expect(api.status, api.text).toBe(503)
    expect(api.body.error.code).toBe('unavailable')
    expect(api.headers.get('retry-after')).toMatch(/^\d+$/)
    expect((await server.call('GET', '/healthz')).status).toBe(200)

    await server.store.migrate()
    expect((await server.call('GET', '/readyz')).status).toBe(200)
  })
})
