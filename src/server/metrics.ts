// Prometheus metrics: requests by route template (never the raw URL, which would explode the label
// set), method and status; their latency; and the process's default metrics.
// One registry per app, so several apps in one process (tests) do not collide.
import type { FastifyInstance } from 'fastify'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { ReplicaState } from '../db/read-routing.js'
import { registerMonitoringMetrics } from '../monitoring/metrics.js'
import type { MonitoringSource } from '../monitoring/snapshot.js'
import type { InteractionBuffer } from '../store/interaction-buffer.js'
import type { Store } from '../store/store.js'

export interface MetricSources {
  store?: Store
  interactionBuffer?: InteractionBuffer
  /** Database monitoring (connections, cache, tables, locks, statements), read once per scrape. */
  monitoring?: MonitoringSource
}

export function registerMetrics(app: FastifyInstance, sources: MetricSources = {}): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const labelNames = ['method', 'route', 'status'] as const
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code.',
    labelNames,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency, by method, route template and status code.',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  app.addHook('onResponse', async (request, reply) => {
    // Unmatched URLs share one label: a scanner must not create a series per path it tries.
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    }
    requests.inc(labels)
    duration.observe(labels, reply.elapsedTime / 1000)
  })
  if (sources.store) {
    registerRetryMetrics(app, registry, sources.store)
    registerEmbeddingMetrics(registry, sources.store)
    registerReplicaMetrics(registry, sources.store)
  }
  if (sources.interactionBuffer) registerBufferMetrics(registry, sources.interactionBuffer)
  if (sources.monitoring) registerMonitoringMetrics(registry, sources.monitoring)
  return registry
}

/** Connection failures ridden through (by reason) and operations that gave up: the signs of cold starts. */
function registerRetryMetrics(app: FastifyInstance, registry: Registry, store: Store): void {
  const retries = new Counter({
    name: 'robot_brain_db_retries_total',
    help: 'Database operations retried after a connection failure, by reason (socket, server_shutdown, ...).',
    labelNames: ['reason'] as const,
    registers: [registry],
  })
  const giveUps = new Counter({
    name: 'robot_brain_db_retry_give_ups_total',
    help: 'Database operations that spent their retry budget and answered 503.',
    registers: [registry],
  })
  const lost = new Counter({
    name: 'robot_brain_db_connections_lost_total',
    help: 'Pooled database connections that failed (idle or in use) and were discarded, by pool (app, owner, read).',
    labelNames: ['pool'] as const,
    registers: [registry],
  })
  const stop = store.observeRetries({
    onRetry: (_err, _attempt, _delay, reason) => retries.inc({ reason }),
    onGiveUp: () => giveUps.inc(),
  })
  const stopLost = store.observePoolErrors((_err, pool) => lost.inc({ pool }))
  app.addHook('onClose', async () => {
    stop()
    stopLost()
  })
}

/** The interaction event buffer of POST /v1/interactions: what waits in memory, what was written. */
function registerBufferMetrics(registry: Registry, buffer: InteractionBuffer): void {
  new Gauge({
    name: 'robot_brain_interaction_buffer_events',
    help: 'Interaction events of the buffer, by state: pending (in memory), written, inserted, rejected, refused_full (of which refused_share: the tenant held its fair share).',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const s = buffer.stats()
      this.set({ state: 'pending' }, s.pending)
      this.set({ state: 'written' }, s.written)
      this.set({ state: 'inserted' }, s.inserted)
      this.set({ state: 'rejected' }, s.rejected)
      this.set({ state: 'refused_full' }, s.fullRefusals)
      this.set({ state: 'refused_share' }, s.shareRefusals)
    },
  })
}

/** Turns waiting for a vector: grows when the embedder is slow, failing, or off. */
function registerEmbeddingMetrics(registry: Registry, store: Store): void {
  new Gauge({
    name: 'robot_brain_embedding_backlog',
    help: 'Turns in the embedding queue, waiting for a vector by the configured model (all tenants).',
    registers: [registry],
    async collect() {
      try {
        this.set(await store.embeddingBacklog())
      } catch {
        // The database is away: /metrics still answers; the gauge keeps its last value.
      }
    },
  })
}

/**
 * The read replica (DATABASE_READ_URL): its lag behind the primary, whether it is up and serving reads,
 * and routed reads by where they ran. Absent without a replica. A scrape checks the replica first, so
 * the lag shown is current even when no read came lately.
 */
function registerReplicaMetrics(registry: Registry, store: Store): void {
  if (!store.config.readUrl) return
  // One check per scrape, shared by the gauges (a registry collects them concurrently).
  let pending: Promise<ReplicaState> | undefined
  const current = () => {
    pending ??= store
      .replica({ check: true })
      .catch(() => store.replica())
      .finally(() => {
        pending = undefined
      })
    return pending
  }
  new Gauge({
    name: 'robot_brain_replica_lag_seconds',
    help: 'How far the read replica is behind the primary (absent while not known: down or not checked yet).',
    registers: [registry],
    async collect() {
      const s = await current()
      this.reset()
      if (s.lagMs !== null) this.set(s.lagMs / 1000)
    },
  })
  new Gauge({
    name: 'robot_brain_replica_up',
    help: '1 when the last check reached the read replica, else 0.',
    registers: [registry],
    async collect() {
      this.set((await current()).up ? 1 : 0)
    },
  })
  new Gauge({
    name: 'robot_brain_replica_serving',
    help: '1 when routed reads (analytics, search, statistics) go to the replica, 0 when they fall back to the primary.',
    registers: [registry],
    async collect() {
      this.set((await current()).serving ? 1 : 0)
    },
  })
  new Gauge({
    name: 'robot_brain_replica_reads',
    help: 'Routed reads since start, by where they ran: replica, primary; fallback counts replica errors the primary answered.',
    labelNames: ['target'] as const,
    registers: [registry],
    async collect() {
      const s = await current()
      this.set({ target: 'replica' }, s.reads.replica)
      this.set({ target: 'primary' }, s.reads.primary)
      this.set({ target: 'fallback' }, s.reads.fallbacks)
    },
  })
}
