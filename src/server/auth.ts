// Who a /v1 request acts for. `Authorization: Bearer <key>` → the key's tenant, and every query of
// the request runs as that tenant (store.tenant(t): row-level security applies). With no active key
// at all, anonymous requests act as tenant `default`, but only when the server is bound to loopback.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { KeyLookup } from '../keys/lookup.js'
import { bearerToken } from '../keys/secret.js'
import { DEFAULT_TENANT, type Store } from '../store/store.js'
import { ForbiddenError, UnauthorizedError } from './errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The store acting for this request's tenant (set by the auth hook on /v1 routes). */
    tenantStore: Store
  }
}

export interface AuthOptions {
  store: Store
  keys: KeyLookup
  /** Anonymous requests may act as `default` while no key exists (true only for a loopback bind). */
  allowAnonymous: boolean
}

export function authHook(options: AuthOptions) {
  const { store, keys, allowAnonymous } = options
  return async function authenticate(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const token = bearerToken(request.headers.authorization)
    if (token === null) {
      throw new UnauthorizedError('the Authorization header must be "Bearer <API key>"')
    }
    const { keysExist, tenant } = await keys.lookup(token)
    if (tenant) {
      request.tenantStore = store.tenant(tenant)
      return
    }
    // A presented key that matches nothing is refused even when anonymous access is allowed:
    // a client with a wrong key must not silently write into tenant `default`.
    if (token !== undefined) throw new UnauthorizedError('the API key is not valid (unknown or revoked)')
    if (keysExist) throw new UnauthorizedError('an API key is required: send Authorization: Bearer <key>')
    if (!allowAnonymous) {
      throw new UnauthorizedError(
        'no API key exists and this server is not bound to loopback: create one with `robot-brain-db keys create --tenant <tenant>`',
      )
    }
    assertLocalRequest(request)
    request.tenantStore = store.tenant(DEFAULT_TENANT)
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
