// The monitoring report as Prometheus gauges, read from one snapshot per scrape. Statements are labelled
// by queryid only (their text would make series of unbounded size); `status` and /monitoring show it.
import { Gauge, type Registry } from 'prom-client'
import type { MonitoringSource } from './snapshot.js'
import type { MonitoringReport } from './types.js'

type Fill = (g: Gauge<string>, m: MonitoringReport) => void

const seconds = (iso: string | null) => (iso ? Date.parse(iso) / 1000 : null)

const GAUGES: Array<{ name: string; help: string; labels: string[]; fill: Fill }> = [
  {
    name: 'robot_brain_db_connections',
    help: 'Client connections of the database server, by state (all databases).',
    labels: ['state'],
    fill: (g, m) => {
      for (const [state, n] of Object.entries(m.connections?.byState ?? {})) g.set({ state }, n)
    },
  },
  {
    name: 'robot_brain_db_max_connections',
    help: 'The server limit of connections (max_connections).',
    labels: [],
    fill: (g, m) => {
      if (m.connections) g.set(m.connections.limit)
    },
  },
  {
    name: 'robot_brain_db_cache_hit_ratio',
    help: 'Share of block reads of this database served from shared buffers, since the statistics were reset.',
    labels: [],
    fill: (g, m) => {
      if (m.cacheHitRatio !== null) g.set(m.cacheHitRatio)
    },
  },
  {
    name: 'robot_brain_db_relation_size_bytes',
    help: 'Size of each table and partition of the schema: kind=table (heap and TOAST) or index.',
    labels: ['relation', 'kind'],
    fill: (g, m) => {
      for (const r of m.relations) {
        if (r.tableBytes !== null) g.set({ relation: r.name, kind: 'table' }, r.tableBytes)
        if (r.indexBytes !== null) g.set({ relation: r.name, kind: 'index' }, r.indexBytes)
      }
    },
  },
  {
    name: 'robot_brain_db_dead_tuples',
    help: 'Dead rows waiting for vacuum, per table and partition.',
    labels: ['relation'],
    fill: (g, m) => {
      for (const r of m.relations) g.set({ relation: r.name }, r.deadTuples)
    },
  },
  {
    name: 'robot_brain_db_last_vacuum_timestamp_seconds',
    help: 'When each table or partition was last vacuumed (by hand or autovacuum); absent when never.',
    labels: ['relation'],
    fill: (g, m) => {
      for (const r of m.relations) {
        const at = Math.max(seconds(r.lastVacuum) ?? 0, seconds(r.lastAutovacuum) ?? 0)
        if (at > 0) g.set({ relation: r.name }, at)
      }
    },
  },
  {
    name: 'robot_brain_db_waiting_locks',
    help: 'Sessions of this database waiting for a lock.',
    labels: [],
    fill: (g, m) => {
      if (m.waitingLocks) g.set(m.waitingLocks.length)
    },
  },
  {
    name: 'robot_brain_db_statement_stats_available',
    help: '1 when pg_stat_statements can be read in this database, else 0 (see robot-brain-db status for how to enable it).',
    labels: [],
    fill: (g, m) => g.set(m.slowQueries.available ? 1 : 0),
  },
  {
    name: 'robot_brain_db_statement_mean_seconds',
    help: 'Mean execution time of the slowest statements (pg_stat_statements), by queryid.',
    labels: ['queryid'],
    fill: (g, m) => {
      for (const s of m.slowQueries.statements) g.set({ queryid: s.queryid }, s.meanMs / 1000)
    },
  },
]

export function registerMonitoringMetrics(registry: Registry, snapshot: MonitoringSource): void {
  for (const def of GAUGES) {
    new Gauge({
      name: def.name,
      help: def.help,
      labelNames: def.labels,
      registers: [registry],
      async collect() {
        let report: MonitoringReport
        try {
          report = await snapshot()
        } catch {
          return // the database is away: /metrics still answers, the gauges keep their last values
        }
        this.reset() // a dropped partition or a statement no longer among the slowest loses its series
        def.fill(this, report)
      },
    })
  }
}
