// Security headers (helmet), CORS (off unless origins are configured) and per-key request rates
// (@fastify/rate-limit: 429 with Retry-After, keyed by API key id, else by client address).
import cors from '@fastify/cors'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { TooBusyError } from './errors.js'
import type { RateLimitOptions } from './protection-options.js'

export type { RateLimitOptions } from './protection-options.js'

/**
 * Headers for every answer. JSON answers get a CSP that allows nothing (they are never documents);
 * the dashboard (GET /) and the API browser (/docs) set CSPs of their own that allow exactly their
 * scripts and styles.
 */
export async function registerHeaders(
  app: FastifyInstance,
  corsOrigins: readonly string[] = [],
): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"] },
    },
    // The API is called cross-origin only when CORS allows it; nothing here is embedded elsewhere.
    crossOriginResourcePolicy: { policy: corsOrigins.length > 0 ? 'cross-origin' : 'same-origin' },
  })
  if (corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after'],
      maxAge: 600,
    })
  }
}

/** The rate limit's bucket: the API key's id once authenticated, else the client address. */
function bucket(request: FastifyRequest): string {
  const keyId = request.auth?.keyId
  return keyId ? `key:${keyId}` : `address:${request.ip}`
}

/**
 * Per-key rate limits on the routes of `scope` (the /v1 plugin): registered after the auth hook, so
 * the key is known when the limit is counted; a request refused by auth is not counted.
 */
export async function registerRateLimit(scope: FastifyInstance, options: RateLimitOptions): Promise<void> {
  const windowMs = options.timeWindowMs ?? 60_000
  await scope.register(rateLimit, {
    global: true,
    max: options.max,
    timeWindow: windowMs,
    keyGenerator: bucket,
    // A limit answered like every other error: our JSON shape, with Retry-After (set by the handler).
    errorResponseBuilder: (_request, ctx) =>
      new TooBusyError(
        429,
        `too many requests for this API key: at most ${ctx.max} per ${Math.round(windowMs / 1000)} s; retry after the Retry-After header`,
        Math.max(1, Math.ceil(ctx.ttl / 1000)),
      ),
  })
}
