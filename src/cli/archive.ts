// robot-brain-db archive --before YYYY-MM --to DIR [--table T] [--dry-run] [--json]: each whole month
// older than --before to Parquet with a manifest, verified, then dropped (src/lifecycle/archive.ts).
import type { Command } from 'commander'
import {
  type ArchiveStep,
  archiveMonth,
  defaultMonthsBefore,
  monthsBefore,
  partitionDefaultMonths,
} from '../lifecycle/archive.js'
import { Progress } from '../lifecycle/progress.js'
import { PARTITIONED_TABLES, type PartitionedTable } from '../upkeep/partitions.js'
import { type DbFlags, printJson, UsageError, withStore } from './common.js'

interface ArchiveFlags extends DbFlags {
  before: string
  to: string
  table?: string
  dryRun?: boolean
  json?: boolean
}

export function parseMonth(flag: string, value: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value))
    throw new UsageError(`${flag} must be a month as YYYY-MM, got "${value}"`)
  return value
}

export function parseTables(value: string | undefined): PartitionedTable[] {
  if (value === undefined) return [...PARTITIONED_TABLES]
  if (!(PARTITIONED_TABLES as readonly string[]).includes(value))
    throw new UsageError(`--table must be one of ${PARTITIONED_TABLES.join(', ')}, got "${value}"`)
  return [value as PartitionedTable]
}

/**
 * Fault injection for the crash tests: ROBOT_BRAIN_ARCHIVE_KILL_AFTER=detached|written|verified kills
 * this process (SIGKILL, as a crash or kill -9 would) right after that step of the first month.
 */
function killAfter(): ((step: ArchiveStep) => void) | undefined {
  const at = process.env.ROBOT_BRAIN_ARCHIVE_KILL_AFTER?.trim()
  if (!at) return undefined
  return (step) => {
    if (step === at) process.kill(process.pid, 'SIGKILL')
  }
}

export function register(program: Command): void {
  program
    .command('archive')
    .description(
      'write each whole month older than --before to DIR as Parquet plus manifest.json (rows per tenant, ' +
        'checksums), read it back to verify, and only then drop the month; stopped at any point and run ' +
        'again, every row ends exactly once, in the database or in a verified archive',
    )
    .requiredOption('--before <YYYY-MM>', 'archive the months before this one')
    .requiredOption(
      '--to <dir>',
      'the archive directory (DIR/<table>/<YYYY-MM>/part-*.parquet, manifest.json)',
    )
    .option('--table <table>', `${PARTITIONED_TABLES.join(' or ')} (default: both)`)
    .option('--dry-run', 'list the months and their rows, change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (opts: ArchiveFlags) => {
      const before = parseMonth('--before', opts.before)
      const tables = parseTables(opts.table)
      await withStore(opts, async (store) => {
        const owner = store.transport.owner
        const months = []
        if (opts.dryRun) {
          const plan: Array<{ table: string; month: string; partition: string; rows: number }> = []
          for (const table of tables) {
            for (const m of await monthsBefore(owner, table, before)) {
              const { rows } = await owner.query<{ n: number }>(
                `SELECT count(*)::integer AS n FROM robot_brain."${m.partition}"`,
              )
              plan.push({ ...m, rows: rows[0]?.n ?? 0 })
            }
            // Rows of months without a partition: archive gives them one first.
            for (const d of await defaultMonthsBefore(owner, table, before)) {
              const partition = `${table}_default`
              plan.push({ table, month: d.month, partition, rows: d.rows })
            }
          }
          plan.sort((a, b) => a.table.localeCompare(b.table) || a.month.localeCompare(b.month))
          if (opts.json) printJson({ dryRun: true, months: plan })
          else if (plan.length === 0) console.log(`nothing to archive before ${before}`)
          else
            for (const p of plan)
              console.log(
                `would archive ${p.table} ${p.month}: ${p.rows} rows to ${opts.to}` +
                  (p.partition.endsWith('_default')
                    ? ' (in the default partition: moved to its own first)'
                    : ''),
              )
          return
        }
        for (const table of tables) {
          // Rows of past months in the default partition move into their month's partition first.
          await partitionDefaultMonths(owner, table, before)
          months.push(...(await monthsBefore(owner, table, before)))
        }
        const results = []
        const kill = killAfter()
        for (const m of months) {
          const progress = new Progress(`archive ${m.table} ${m.month}`, 'rows')
          const r = await archiveMonth(owner, m, opts.to, {
            onRows: (n) => progress.update(n),
            onStep: kill,
          })
          progress.finish()
          results.push(r)
          if (!opts.json)
            console.log(`${r.outcome} ${r.table} ${r.month}: ${r.rows} rows, verified, dropped; ${r.dir}`)
        }
        if (opts.json) printJson({ dryRun: false, months: results })
        else if (results.length === 0) console.log(`nothing to archive before ${before}`)
      })
    })
}
