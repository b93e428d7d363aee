// A bound on heavy requests in flight (history pages, session lists, search, analytics): each may
// hold megabytes while it is read and serialized, so a burst of them must not starve everyone else.
// At most `max` run at once and one tenant holds at most `perTenant` of them. A request beyond that
// waits (in arrival order, at most `queueMs`) for a slot it may take; one that cannot wait or waited
// too long is refused with Retry-After: 429 when its tenant holds its whole share (the client's own
// excess), 503 when the server as a whole is busy. Waiting is bounded by time, and by a count far
// above the share: an app that keeps more reads in flight than its share (8 clients of one tenant on
// fast reads) must queue for a millisecond, not be refused because a reply's slot is given back a
// moment after the client already sent its next request.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { TooBusyError } from './errors.js'
import type { HeavyLimitOptions } from './options.js'

export type { HeavyLimitOptions } from './options.js'

interface Waiter {
  tenant: string
  grant: () => void
  timer: NodeJS.Timeout
}

export class HeavyLimit {
  readonly max: number
  readonly perTenant: number
  readonly queueMs: number
  readonly queuePerTenant: number
  private running = 0
  private readonly byTenant = new Map<string, number>()
  private readonly waiting = new Map<string, number>()
  private readonly queue: Waiter[] = []

  constructor(options: HeavyLimitOptions = {}) {
    this.max = positive('max', options.max ?? 8)
    this.perTenant = positive('perTenant', options.perTenant ?? Math.max(1, Math.floor(this.max / 2)))
    this.queueMs = options.queueMs ?? 2000
    if (!Number.isInteger(this.queueMs) || this.queueMs < 0) throw new RangeError('queueMs must be >= 0')
    // As many as one client address may hold connections (the per-address cap's default).
    this.queuePerTenant = positive('queuePerTenant', options.queuePerTenant ?? 64)
  }

  /** Resolves with a release function once the request may run; throws TooBusyError when refused. */
  async acquire(tenant: string): Promise<() => void> {
    // Every release grants what fits, so whoever still waits is held by its tenant's share (or the
    // server is full): a request that fits goes first, unless its own tenant has requests waiting.
    const queued = this.waiting.get(tenant) ?? 0
    if (queued === 0 && this.fits(tenant)) return this.take(tenant)
    // A tenant's flood is bounded in the queue too, though waiters hold no slot: others are granted
    // past it in any case (wake skips a tenant over its share).
    if (queued >= this.queuePerTenant) throw this.refusal(tenant, true)
    if (this.queueMs === 0) throw this.refusal(tenant)
    this.waiting.set(tenant, queued + 1)
    return new Promise<() => void>((resolve, reject) => {
      const waiter: Waiter = {
        tenant,
        grant: () => resolve(this.take(tenant)),
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(waiter), 1)
          this.unwait(tenant)
          reject(this.refusal(tenant))
        }, this.queueMs),
      }
      this.queue.push(waiter)
    })
  }

  stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.queue.length }
  }

  private fits(tenant: string): boolean {
    return this.running < this.max && (this.byTenant.get(tenant) ?? 0) < this.perTenant
  }

  /** 429 when the tenant's own requests fill its share (running, or waiting), else 503. */
  private refusal(tenant: string, queueFull = false): TooBusyError {
    return queueFull || (this.byTenant.get(tenant) ?? 0) >= this.perTenant
      ? new TooBusyError(
          429,
          `too many heavy requests of this tenant at once (at most ${this.perTenant}); retry shortly`,
        )
      : new TooBusyError(503, 'the server is busy with other heavy requests; retry shortly')
  }

  private take(tenant: string): () => void {
    this.running++
    this.byTenant.set(tenant, (this.byTenant.get(tenant) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.running--
      const left = (this.byTenant.get(tenant) ?? 1) - 1
      if (left === 0) this.byTenant.delete(tenant)
      else this.byTenant.set(tenant, left)
      this.wake()
    }
  }

  /** Grants slots to waiters in arrival order, skipping those whose tenant holds its whole share. */
  private wake(): void {
    for (let i = 0; i < this.queue.length && this.running < this.max; ) {
      const w = this.queue[i] as Waiter
      if (!this.fits(w.tenant)) {
        i++
        continue
      }
      this.queue.splice(i, 1)
      clearTimeout(w.timer)
      this.unwait(w.tenant)
      w.grant()
    }
  }

  private unwait(tenant: string): void {
    const n = (this.waiting.get(tenant) ?? 1) - 1
    if (n === 0) this.waiting.delete(tenant)
    else this.waiting.set(tenant, n)
  }
}

/** Routes whose answers can be large or slow: method and route template. */
const HEAVY_ROUTES = [
  /^GET \/v1\/sessions$/,
  /^GET \/v1\/sessions\/:sessionId\/(turns|messages|context)$/,
  /^(GET|POST) \/v1\/search$/,
  /^GET \/v1\/analytics\//,
  /^GET \/v1\/users\/:userId\/export$/,
]

export function isHeavyRoute(method: string, url: string | undefined): boolean {
  if (!url) return false
  const key = `${method} ${url}`
  return HEAVY_ROUTES.some((r) => r.test(key))
}

/**
 * A preHandler for /v1 (after authentication, so the tenant is known): heavy routes take a slot,
 * given back when the response has been sent or the client went away.
 */
export function heavyLimitHook(limit: HeavyLimit) {
  return async function limitHeavy(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!isHeavyRoute(request.method, request.routeOptions.url)) return
    const release = await limit.acquire(request.tenantStore.tenantId)
    reply.raw.once('close', release)
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`)
  return value
}
