// The monitoring part of `status` for a terminal: connections, slow statements, cache, tables, locks.
import type { MonitoringReport } from './types.js'

const n = (x: number) => x.toLocaleString('en-US')

export function size(bytes: number | null): string {
  if (bytes === null) return 'locked'
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let v = bytes
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`
}

const day = (iso: string | null) => (iso ? iso.slice(0, 16).replace('T', ' ') : 'never')

/** The later of two ISO timestamps (manual and automatic runs). */
function latest(a: string | null, b: string | null): string | null {
  if (!a) return b
  if (!b) return a
  return a > b ? a : b
}

export function monitoringLines(m: MonitoringReport): string[] {
  const out: string[] = []
  const c = m.connections
  if (c) {
    const states = Object.entries(c.byState)
      .sort((a, b) => b[1] - a[1])
      .map(([state, count]) => `${count} ${state}`)
      .join(', ')
    out.push(
      `connections ${c.total} of ${c.limit} (${c.reserved} reserved for superusers), ${c.thisDatabase} to this database${states ? `: ${states}` : ''}`,
    )
  }
  const ratio = m.cacheHitRatio === null ? 'no reads yet' : `${(m.cacheHitRatio * 100).toFixed(2)}%`
  out.push(`cache hits  ${ratio} (${n(m.cacheBlocks.hits)} buffer hits, ${n(m.cacheBlocks.reads)} reads)`)
  if (!m.slowQueries.available) out.push(`slow queries unavailable: ${m.slowQueries.reason}`)
  else if (m.slowQueries.statements.length === 0) out.push('slow queries none recorded yet')
  else {
    out.push('slow queries (mean time, calls, statement)')
    for (const s of m.slowQueries.statements) {
      const text = s.query.replace(/\s+/g, ' ').slice(0, 90)
      out.push(`  ${`${s.meanMs.toFixed(1)} ms`.padStart(11)} ${n(s.calls).padStart(9)}  ${text}`)
    }
  }
  if (m.waitingLocks) {
    if (m.waitingLocks.length === 0) out.push('locks       no session waiting')
    else {
      out.push(`locks       ${m.waitingLocks.length} session(s) waiting`)
      for (const l of m.waitingLocks) {
        out.push(
          `  pid ${l.pid} waits ${l.waitingSeconds}s for ${l.mode} on ${l.relation ?? l.locktype}, held by ${l.blockedBy.join(', ') || '?'}: ${l.query.replace(/\s+/g, ' ').slice(0, 80)}`,
        )
      }
    }
  }
  if (m.relations.length > 0) {
    out.push('tables      (table size, index size, live rows, dead rows, last vacuum, last analyze)')
    let parent: string | null = null
    for (const r of m.relations) {
      if (r.parent && r.parent !== parent) out.push(`  ${r.parent} (partitioned)`)
      parent = r.parent
      const name = r.parent ? `  ${r.name}` : r.name
      out.push(
        `  ${name.padEnd(34)} ${size(r.tableBytes).padStart(9)} ${size(r.indexBytes).padStart(9)} ${n(r.liveTuples).padStart(11)} ${n(r.deadTuples).padStart(9)}  ${day(latest(r.lastVacuum, r.lastAutovacuum)).padEnd(16)}  ${day(latest(r.lastAnalyze, r.lastAutoanalyze))}`,
      )
    }
  }
  for (const note of m.notApplicable) out.push(`not applicable: ${note}`)
  return out
}
