// Graceful shutdown, in one place, within a time bound:
// 1. not ready any more (/readyz 503), and the interaction buffer starts writing what it holds;
// 2. stop accepting; idle keep-alive connections close at once; requests in flight (a body still
//    arriving included) get up to `graceMs` to finish;
// 3. whatever connection is left (a stalled upload) is closed; the buffer is closed (everything it
//    accepted written): this never waits on the connections, so an event answered 202 is stored
//    whatever clients do;
// 4. the store (and its pools) closes.
import type { FastifyInstance } from 'fastify'
import type { Store } from '../store/store.js'

export interface ShutdownOptions {
  /** Longest the whole shutdown may take before giving up (ms). Default 10 s. */
  timeoutMs?: number
  /** Longest requests in flight may take to finish before their connections are closed (ms). Default 5 s. */
  graceMs?: number
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** Resolves true when everything closed in time, false when the bound ran out first. */
export async function shutdown(
  app: FastifyInstance,
  store: Store,
  options: ShutdownOptions = {},
): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 10_000
  const graceMs = Math.min(options.graceMs ?? 5_000, timeoutMs / 2)
  const started = Date.now()
  const state = app.robotBrain
  // Readiness turns false first, so a load balancer stops sending before the listener closes.
  state.draining = true
  const buffer = state.interactionBuffer
  // Accepted events start on their way now, not after the connections are gone.
  buffer?.flush().catch(() => {})
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs)
    timer.unref()
  })
  const closing = (async () => {
    // Stops accepting, closes idle keep-alive connections, waits for requests in flight.
    const appClosed = app.close().then(
      () => true,
      (err) => {
        app.log.error({ err }, 'error while closing the HTTP server')
        return true
      },
    )
    for (const server of state.extraServers) {
      server.close()
      server.closeAllConnections()
    }
    const finished = await Promise.race([appClosed, sleep(graceMs).then(() => false)])
    if (!finished) {
      app.log.warn(`requests still in flight after ${graceMs} ms of shutdown: closing their connections`)
      app.server.closeAllConnections()
    }
    // Events accepted with 202 but still in memory: written before the pools close, whatever the
    // connections did. app.close() may still be finishing its hooks meanwhile.
    await buffer?.close({ timeoutMs: Math.max(1, timeoutMs - (Date.now() - started)) })
    await Promise.race([appClosed, sleep(1_000)])
    // Upkeep in progress stops after its current task; its lease expires if that takes too long.
    if (state.upkeep) await Promise.race([state.upkeep.stop(), sleep(2_000)])
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
