// Who may read /metrics. It shows request and row figures of every tenant and the runtime's version,
// so it is not for any client:
// - with a metrics token (ROBOT_BRAIN_METRICS_TOKEN), only `Authorization: Bearer <token>` reads it;
// - on a separate metrics port (--metrics-port), it is served there (token still required if set)
//   and the API port answers 404: the operator keeps that port off the public network;
// - otherwise, once API keys exist, it answers 403 (no key of any tenant may read every tenant's
//   figures); while no key exists (loopback only), it is open to local requests like /v1.
import { createHash, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import type { FastifyRequest } from 'fastify'
import type { Registry } from 'prom-client'
import { NotFoundError } from '../errors.js'
import type { KeyLookup } from '../keys/lookup.js'
import { bearerToken } from '../keys/secret.js'
import { anonymousAllowed, assertLocalRequest } from './auth.js'
import { ForbiddenError, UnauthorizedError } from './errors.js'

export interface MetricsAccessOptions {
  /** Bearer token required to read /metrics. */
  token?: string
  /** /metrics is served on its own port: the API port answers 404. */
  separatePort?: boolean
}

function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

function tokenMatches(authorization: string | undefined, expected: string): boolean {
  const given = bearerToken(authorization)
  return typeof given === 'string' && sameToken(given, expected)
}

/** Throws the error /metrics answers with on the API port, or returns when the request may read it. */
export function metricsGuard(
  options: MetricsAccessOptions & {
    keys: KeyLookup
    allowAnonymous: boolean
    allowAnonymousAfterKeys?: boolean
  },
): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (options.separatePort) throw new NotFoundError('metrics are served on the metrics port')
    if (options.token) {
      if (!tokenMatches(request.headers.authorization, options.token)) {
        throw new UnauthorizedError('/metrics needs Authorization: Bearer <metrics token>')
      }
      return
    }
    if (!anonymousAllowed(await options.keys.lookup(undefined), options)) {
      throw new ForbiddenError(
        '/metrics is closed while API keys exist: configure ROBOT_BRAIN_METRICS_TOKEN or --metrics-port',
      )
    }
    assertLocalRequest(request)
  }
}

/**
 * A listener of its own for Prometheus: GET /metrics only. Closed with the app (see shutdown.ts).
 */
export async function listenForMetrics(
  registry: Registry,
  options: { port: number; host: string; token?: string },
): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    const send = (status: number, code: string, message: string) => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
      res.end(JSON.stringify({ error: { code, message } }))
    }
    const path = (req.url ?? '').split('?')[0]
    if (req.method !== 'GET' || path !== '/metrics') return send(404, 'not_found', 'only GET /metrics here')
    if (options.token && !tokenMatches(req.headers.authorization, options.token)) {
      res.setHeader('www-authenticate', 'Bearer')
      return send(401, 'unauthorized', '/metrics needs Authorization: Bearer <metrics token>')
    }
    try {
      const body = await registry.metrics()
      res.writeHead(200, { 'content-type': registry.contentType })
      res.end(body)
    } catch {
      send(500, 'internal_error', 'metrics could not be collected')
    }
  })
  server.requestTimeout = 10_000
  server.headersTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return server
}
