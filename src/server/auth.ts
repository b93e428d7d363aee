// Who a /v1 request acts for, and what it may do. `Authorization: Bearer <key>` → the key's tenant
// and scope, and every query of the request runs as that tenant (store.tenant(t): row-level security
// applies). With no active key at all, anonymous requests act as tenant `default` with every scope,
// but only when the server is bound to loopback, and only while no key was ever made: once keys were
// used, revoking the last one keeps the server closed unless anonymous access is explicitly allowed
// again (`serve --allow-anonymous`). Authentication failures and scope denials go to the audit log,
// sampled (security/sampler.ts).
import type { FastifyReply, FastifyRequest } from 'fastify'
import { type KeyScope, scopeAllows } from '../keys/keys.js'
import type { KeyLookup, KeyLookupResult } from '../keys/lookup.js'
import { bearerToken, KEY_MARKER, looksLikeKey, PREFIX_LENGTH } from '../keys/secret.js'
import { AuditSampler } from '../security/sampler.js'
import { DEFAULT_TENANT, type Store } from '../store/store.js'
import { ForbiddenError, UnauthorizedError } from './errors.js'

/** Who a request acts as, set by the auth hook on /v1 routes. */
export interface RequestAuth {
  tenant: string
  /** The key's id; null for anonymous (keyless loopback) requests. */
  keyId: string | null
  scope: KeyScope
  /** In the audit log: `key:<uuid>` or `anonymous`. */
  actor: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The store acting for this request's tenant (set by the auth hook on /v1 routes). */
    tenantStore: Store
    /** Who the request acts as (set by the auth hook on /v1 routes). */
    auth: RequestAuth
  }
  interface FastifyContextConfig {
    /** The scope a route needs; default `read` for GET and HEAD, `write` otherwise. */
    scope?: KeyScope
  }
}

export interface AuthOptions {
  store: Store
  keys: KeyLookup
  /** Anonymous requests may act as `default` while no key exists (true only for a loopback bind). */
  allowAnonymous: boolean
  /**
   * Anonymous access comes back after every key was revoked (still loopback only). Default false:
   * revoking the last key leaves the server closed until a key is made.
   */
  allowAnonymousAfterKeys?: boolean
  /** Sampling of audit entries for failures (default: 10 a minute per client address or key). */
  sampler?: AuditSampler
}

/** Whether a request without a key may act as tenant `default` now. */
export function anonymousAllowed(
  found: Pick<KeyLookupResult, 'keysExist' | 'keysEver'>,
  options: Pick<AuthOptions, 'allowAnonymous' | 'allowAnonymousAfterKeys'>,
): boolean {
  if (!options.allowAnonymous || found.keysExist) return false
  return !found.keysEver || options.allowAnonymousAfterKeys === true
}

/** The scope a request needs: the route's own, else by method (POST /v1/search only reads). */
export function neededScope(request: FastifyRequest): KeyScope {
  const declared = request.routeOptions.config?.scope
  if (declared) return declared
  const method = request.method
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return 'read'
  if (method === 'POST' && request.routeOptions.url === '/v1/search') return 'read'
  return 'write'
}

export function authHook(options: AuthOptions) {
  const { store, keys, allowAnonymous } = options
  const sampler = options.sampler ?? new AuditSampler()
  const audit = (
    request: FastifyRequest,
    tenant: string | null,
    actor: string,
    action: string,
    details: Record<string, unknown>,
  ) => {
    const taken = sampler.take(`${action}/${actor}`)
    if (!taken) return
    const target = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`.slice(0, 300)
    const entry = { action, target, actor, details: { ...details, suppressed: taken.suppressed } }
    const log = store.audit
    const written = tenant === null ? log.recordSystem(entry) : store.tenant(tenant).audit.record(entry)
    // The answer does not wait for, or fail with, the audit write; a failure is logged.
    written.catch((err) => request.log.error({ err }, 'could not record an audit entry'))
  }
  const refuse = (
    request: FastifyRequest,
    reason: string,
    token: string | undefined,
    message: string,
  ): never => {
    // The key's prefix (its public part, as `keys list` shows) says which key was tried; never the key.
    const prefix = token !== undefined && looksLikeKey(token) ? token.slice(0, PREFIX_LENGTH) : undefined
    audit(request, null, `address:${request.ip}`, 'auth.failed', {
      reason,
      ...(prefix ? { keyPrefix: prefix } : {}),
    })
    throw new UnauthorizedError(message)
  }
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = bearerToken(request.headers.authorization)
    if (token === null) {
      refuse(request, 'malformed', undefined, 'the Authorization header must be "Bearer <API key>"')
    }
    const found = await keys.lookup(token ?? undefined)
    let auth: RequestAuth
    if (found.tenant && found.keyId) {
      auth = {
        tenant: found.tenant,
        keyId: found.keyId,
        scope: found.scope ?? 'write',
        actor: `key:${found.keyId}`,
      }
    } else {
      // A presented key that matches nothing is refused even when anonymous access is allowed:
      // a client with a wrong key must not silently write into tenant `default`.
      if (token !== undefined && token !== null) {
        refuse(
          request,
          token.startsWith(KEY_MARKER) ? 'unknown or revoked key' : 'not a key',
          token,
          'the API key is not valid (unknown or revoked)',
        )
      }
      if (found.keysExist) {
        refuse(request, 'missing key', undefined, 'an API key is required: send Authorization: Bearer <key>')
      }
      if (!allowAnonymous) {
        throw new UnauthorizedError(
          'no API key exists and this server is not bound to loopback: create one with `robot-brain-db keys create --tenant <tenant>`',
        )
      }
      if (!anonymousAllowed(found, options)) {
        refuse(
          request,
          'missing key',
          undefined,
          'every API key was revoked, and anonymous access does not come back by itself: create a key ' +
            '(`robot-brain-db keys create --tenant <tenant>`), or restart the server with --allow-anonymous',
        )
      }
      assertLocalRequest(request)
      auth = { tenant: DEFAULT_TENANT, keyId: null, scope: 'admin', actor: 'anonymous' }
    }
    request.auth = auth
    request.tenantStore = store.tenant(auth.tenant).as(auth.actor)
    const needs = neededScope(request)
    if (!scopeAllows(auth.scope, needs)) {
      audit(request, auth.tenant, auth.actor, 'scope.denied', { scope: auth.scope, needs })
      throw new ForbiddenError(
        `this API key has scope "${auth.scope}"; ${request.method} ${request.routeOptions.url} needs "${needs}"`,
      )
    }
  }
}

/**
 * Keyless mode trusts whoever reaches the loopback port, and a web page can reach it too: through a
 * DNS-rebinding name (Host: attacker.example:PORT resolving to 127.0.0.1) or by a cross-site request.
 * So without keys only loopback host names are served, and a browser's Origin must be loopback too.
 */
export function assertLocalRequest(request: FastifyRequest): void {
  const host = request.headers.host
  if (typeof host !== 'string' || !isLoopbackHost(hostName(host))) {
    throw new ForbiddenError(
      'without API keys this server only answers requests addressed to a loopback name (localhost, 127.0.0.1, [::1])',
    )
  }
  // A browser names the page's origin; `null` (sandboxed or file pages) is refused as well.
  const origin = request.headers.origin
  if (origin !== undefined && !isLoopbackOrigin(origin)) {
    throw new ForbiddenError(
      'without API keys this server refuses cross-site requests (Origin is not loopback)',
    )
  }
}

/** `localhost:3000` → `localhost`; `[::1]:3000` → `[::1]`. */
function hostName(host: string): string {
  const h = host.trim()
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1)
  const colon = h.lastIndexOf(':')
  return colon >= 0 ? h.slice(0, colon) : h
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const u = new URL(origin)
    return (u.protocol === 'http:' || u.protocol === 'https:') && isLoopbackHost(u.hostname)
  } catch {
    return false
  }
}

/** Whether a listen address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h === '::1') return true
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)) return true
  return /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}
