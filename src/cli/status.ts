// robot-brain-db status: where we are connected, server and schema version, rows and partitions.
import type { Command } from 'commander'
import { EXACT_COUNT_LIMIT, gatherStatus, type StatusReport } from '../doctor/status.js'
import { monitoringLines, size } from '../monitoring/print.js'
import { type DbFlags, printJson, withStore } from './common.js'

const n = (x: number) => x.toLocaleString('en-US')

function printStatus(r: StatusReport): void {
  const c = r.connection
  if (c.driver === 'pglite') console.log(`connection  embedded PGlite, data in ${c.dataDir}`)
  else {
    console.log(`connection  ${c.driver} ${c.url}${c.pooled ? ' (pooled)' : ''}`)
    if (c.directUrl) console.log(`            direct: ${c.directUrl}`)
    if (c.readUrl) console.log(`            read:   ${c.readUrl}`)
  }
  if (r.replica) console.log(`replica     ${describeReplica(r.replica)}`)
  console.log(`server      PostgreSQL ${r.server.version}`)
  const s = r.schema
  const state = s.current
    ? `current (${s.applied.length} applied, latest ${s.applied.at(-1)})`
    : [
        s.pending.length &&
          `${s.pending.length} pending (${s.pending.join(', ')}): run robot-brain-db migrate`,
        s.changed.length && `changed after applying: ${s.changed.join(', ')}`,
        s.unknown.length && `applied but unknown to this version: ${s.unknown.join(', ')}`,
      ]
        .filter(Boolean)
        .join('; ')
  console.log(`schema      ${state}`)
  if (r.onlineStepsPending.length > 0)
    console.log(`            online steps not finished: ${r.onlineStepsPending.join(', ')} (run migrate)`)
  if (r.embeddingBacklog !== null)
    console.log(`embeddings  ${n(r.embeddingBacklog)} turns waiting for a vector`)
  if (r.upkeep) printUpkeep(r.upkeep)
  for (const line of monitoringLines(r)) console.log(line)
  if (r.rowsUnavailable) console.log(`rows        unavailable: ${r.rowsUnavailable}`)
  else if (!r.tables || !r.partitions) {
    console.log('rows        no schema yet')
    return
  }
  if (r.tables) printCounts(r.tables)
  if (r.partitions) printPartitions(r.partitions)
}

function printUpkeep(u: NonNullable<StatusReport['upkeep']>): void {
  const stats = u.sessionStats
  console.log(
    `stats       session_stats refreshed ${stats.refreshedAt ?? 'never'}` +
      (stats.changedSince ? ', turns changed since' : ', current'),
  )
  const last = u.lastRun
  const failed = Array.isArray(last?.results)
    ? (last.results as Array<{ ok: boolean; task: string }>).filter((t) => !t.ok).map((t) => t.task)
    : []
  console.log(
    `upkeep      ${last?.finishedAt ? `last run ${last.finishedAt}` : 'not run yet by serve'}` +
      (failed.length ? ` (failed: ${failed.join(', ')})` : '') +
      (u.runningIn ? `; running now in ${u.runningIn}` : ''),
  )
}

function describeReplica(s: NonNullable<StatusReport['replica']>): string {
  const lag = s.lagMs === null ? 'lag unknown' : `lag ${(s.lagMs / 1000).toFixed(3)} s`
  const state = s.up ? `up, ${lag}` : 'down'
  return `${state} (bound ${s.maxLagMs / 1000} s): ${s.serving ? 'serving analytics, search and statistics' : `reads go to the primary (${s.reason})`}`
}

function printCounts(tables: NonNullable<StatusReport['tables']>): void {
  console.log('rows')
  for (const [table, count] of Object.entries(tables)) {
    console.log(
      `  ${table.padEnd(20)} ${(count.estimated ? `~${n(count.rows)}` : n(count.rows)).padStart(14)}`,
    )
  }
  if (Object.values(tables).some((t) => t.estimated)) {
    console.log(`  (~ estimated from pg_class.reltuples: over ${n(EXACT_COUNT_LIMIT)} rows)`)
  }
}

function printPartitions(partitions: NonNullable<StatusReport['partitions']>): void {
  console.log('partitions')
  for (const [parent, parts] of Object.entries(partitions)) {
    console.log(`  ${parent}`)
    for (const p of parts) {
      const range = p.default ? 'default' : `${p.from?.slice(0, 10)} to ${p.to?.slice(0, 10)}`
      const rows = p.rows === null ? '?' : `${p.estimated ? '~' : ''}${n(p.rows)}`
      console.log(
        `    ${p.name.padEnd(34)} ${range.padEnd(24)} ${rows.padStart(12)} rows ${size(p.bytes).padStart(9)}`,
      )
    }
  }
}

export function register(program: Command): void {
  program
    .command('status')
    .description(
      'show the connection (password redacted), server version, schema version, row counts ' +
        'across all tenants, the partitions of conversations and robot_interactions, and the ' +
        "embedding backlog (turns waiting for a vector), and the read replica's lag (with DATABASE_READ_URL)",
    )
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Counts are exact up to ${n(EXACT_COUNT_LIMIT)} rows per table; above that they are the planner's
estimate (pg_class.reltuples), marked ~ (and "estimated": true in JSON). When the direct URL logs in
as a role row-level security limits (not the schema owner), no counts are shown: "rowsUnavailable"
says why, and the exit code is 1.`,
    )
    .action(async (opts: DbFlags & { json?: boolean }) => {
      await withStore(opts, async (store) => {
        const report = await gatherStatus(store.config, store.transport.owner, store.transport.pooled)
        if (store.config.readUrl) {
          report.replica = await store.replica({ check: true })
          report.replicaLagSeconds = report.replica.lagMs === null ? null : report.replica.lagMs / 1000
        }
        if (opts.json) printJson(report)
        else printStatus(report)
        // A setup problem was found (the counts could not be seen): scripts should notice.
        if (report.rowsUnavailable) process.exitCode = 1
      })
    })
}
