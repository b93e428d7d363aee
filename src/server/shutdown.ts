// Graceful shutdown, in one place: not ready any more, stop accepting, let in-flight requests
// finish, close the store (and its pools), all within a time bound. Extend here (e.g. flushing
// event buffers before the store closes).
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/store.js'

export interface ShutdownOptions {
  /** Longest the whole shutdown may take before giving up (ms). Default 10 s. */
  timeoutMs?: number
}

/** Resolves true when everything closed in time, false when the bound ran out first. */
export async function shutdown(
  app: FastifyInstance,
  store: Store,
  options: ShutdownOptions = {},
): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 10_000
  // Readiness turns false first, so a load balancer stops sending before the listener closes.
  app.robotBrain.draining = true
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
    timer.unref()
  })
  const closing = (async () => {
    // Stops accepting, closes idle keep-alive connections, waits for requests in flight.
    await app.close()
    // Events accepted with 202 but still in memory: written before the pools close.
    await app.robotBrain.interactionBuffer?.close()
    await store.close()
    return true as const
  })()
  try {
    return await Promise.race([closing, expired])
  } catch (err) {
    app.log.error({ err }, 'error during shutdown')
    return false
  } finally {
    clearTimeout(timer)
  }
}
