// One monitoring report shared by every reader for a few seconds: a Prometheus scrape reads a dozen
// gauges, and each must not run the statistics queries again.
import type { Store } from '../store/store.js'
import { gatherMonitoring } from './index.js'
import type { MonitoringReport } from './types.js'

export type MonitoringSource = () => Promise<MonitoringReport>

export function monitoringSnapshot(store: Store, maxAgeMs = 5000): MonitoringSource {
  let last: { at: number; report: Promise<MonitoringReport> } | undefined
  return () => {
    if (last && Date.now() - last.at < maxAgeMs) return last.report
    const report = gatherMonitoring(store.transport.owner, store.transport.driver === 'pglite')
    const entry = { at: Date.now(), report }
    last = entry
    // A failure is not remembered: the next reader asks again.
    report.catch(() => {
      if (last === entry) last = undefined
    })
    return report
  }
}
