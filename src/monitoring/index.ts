// The monitoring report of one database: what `status`, /monitoring and /metrics show. Read-only
// queries on the statistics views; run on the owner's direct connection (a pooler's connection would
// count itself and hide nothing useful, but the owner sees every tenant's tables).
import type { Queryable } from '../db/pool.js'
import { cacheHits } from './cache.js'
import { connections } from './connections.js'
import { waitingLocks } from './locks.js'
import { relations } from './relations.js'
import { slowQueries } from './statements.js'
import type { MonitoringReport } from './types.js'

export type * from './types.js'

/** What the embedded database cannot report, said once in the report. */
export const EMBEDDED_NOT_APPLICABLE = [
  'connections: one in-process connection, no connection limit to watch',
  'slowQueries: pg_stat_statements is not available in the embedded database',
  'waitingLocks: one connection, so no session can wait for another',
  'replication: the embedded database has no replicas',
]

export async function gatherMonitoring(db: Queryable, embedded: boolean): Promise<MonitoringReport> {
  const cache = await cacheHits(db)
  const base = {
    cacheHitRatio: cache.ratio,
    cacheBlocks: { hits: cache.hits, reads: cache.reads },
    relations: await relations(db),
  }
  if (embedded) {
    return {
      ...base,
      connections: null,
      slowQueries: {
        available: false,
        reason: 'pg_stat_statements is not available in the embedded database (PGlite)',
        statements: [],
      },
      waitingLocks: null,
      notApplicable: EMBEDDED_NOT_APPLICABLE,
    }
  }
  return {
    ...base,
    connections: await connections(db),
    slowQueries: await slowQueries(db),
    waitingLocks: await waitingLocks(db),
    notApplicable: [],
  }
}
