// robot-brain-db maintain [task...] [--json]
import type { Command } from 'commander'
import { runMaintenance, TASKS } from '../maintenance/tasks.js'
import { type DbFlags, printJson, UsageError, withStore } from './common.js'

export function register(program: Command): void {
  program
    .command('maintain')
    .description('run upkeep tasks on the direct URL: partitions, stats, analyze (all by default)')
    .argument('[tasks...]', `tasks to run: ${TASKS.map((t) => t.name).join(', ')}`)
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      `\nTasks:\n${TASKS.map((t) => `  ${t.name.padEnd(11)} ${t.description}`).join('\n')}`,
    )
    .action(async (tasks: string[], opts: DbFlags & { json?: boolean }) => {
      const unknown = tasks.filter((n) => !TASKS.some((t) => t.name === n))
      if (unknown.length) throw new UsageError(`unknown task(s): ${unknown.join(', ')}`)
      const results = await withStore(opts, (store) => runMaintenance(store, tasks))
      if (opts.json) printJson(results)
      else
        for (const r of results)
          console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.task.padEnd(11)} ${r.detail} (${r.ms} ms)`)
      if (results.some((r) => !r.ok)) process.exitCode = 1
    })
}
