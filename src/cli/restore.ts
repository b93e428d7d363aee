// robot-brain-db restore --from DIR --month YYYY-MM [--table T] [--dry-run] [--json]: an archived month
// back, exactly, after verifying the archive (src/lifecycle/restore.ts).
import { existsSync } from 'node:fs'
import type { Command } from 'commander'
import { monthDir } from '../lifecycle/archive.js'
import { Progress } from '../lifecycle/progress.js'
import { restoreMonth } from '../lifecycle/restore.js'
import { parseMonth, parseTables } from './archive.js'
import { type DbFlags, printJson, withStore } from './common.js'

interface RestoreFlags extends DbFlags {
  from: string
  month: string
  table?: string
  dryRun?: boolean
  json?: boolean
}

export function register(program: Command): void {
  program
    .command('restore')
    .description(
      'bring an archived month back from DIR, exactly (ids, text, metadata, timestamps to the microsecond); ' +
        'the archive is verified first and refused if altered; run again after a stop, every row ends once',
    )
    .requiredOption('--from <dir>', 'the archive directory written by `archive --to`')
    .requiredOption('--month <YYYY-MM>', 'the month to bring back')
    .option('--table <table>', 'conversations or robot_interactions (default: each archived for that month)')
    .option('--dry-run', 'verify the archive and say what would be restored, change nothing')
    .option('--json', 'print the result as JSON')
    .action(async (opts: RestoreFlags) => {
      const month = parseMonth('--month', opts.month)
      const tables = parseTables(opts.table).filter(
        (t) => opts.table !== undefined || existsSync(monthDir(opts.from, t, month)),
      )
      if (tables.length === 0) throw new Error(`${opts.from} holds no archive of ${month}`)
      await withStore(opts, async (store) => {
        const results = []
        for (const table of tables) {
          const progress = new Progress(`restore ${table} ${month}`, 'rows')
          const r = await restoreMonth(store.transport.owner, opts.from, table, month, {
            dryRun: opts.dryRun,
            onRows: (n) => progress.update(n),
          })
          progress.finish()
          results.push(r)
          if (!opts.json)
            console.log(
              opts.dryRun
                ? `would restore ${table} ${month}: ${r.rows} rows (archive verified)`
                : `restored ${table} ${month}: ${r.restored} rows` +
                    (r.present ? `, ${r.present} already present` : '') +
                    (r.skipped ? `, ${r.skipped} left out (their session was deleted)` : ''),
            )
        }
        if (opts.json) printJson({ dryRun: opts.dryRun === true, results })
      })
    })
}
