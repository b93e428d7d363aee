// robot-brain-db maintain [task...] [--force] [--json]: the tasks `serve` runs on its schedule, by hand.
import type { Command } from 'commander'
import { upkeepOptionsFromEnv } from '../config.js'
import { runMaintenance, TASKS } from '../maintenance/tasks.js'
import { type DbFlags, printJson, UsageError, withStore } from './common.js'

export function register(program: Command): void {
  program
    .command('maintain')
    .description(
      `run upkeep tasks on the direct URL: ${TASKS.map((t) => t.name).join(', ')} (all by default); ` +
        '`serve` runs the same on its own (ROBOT_BRAIN_UPKEEP_INTERVAL)',
    )
    .argument('[tasks...]', `tasks to run: ${TASKS.map((t) => t.name).join(', ')}`)
    .option('--force', 'refresh session_stats even when no turn changed since the last refresh')
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      `\nTasks:\n${TASKS.map((t) => `  ${t.name.padEnd(11)} ${t.description}`).join('\n')}\n` +
        '\nRetention (environment; default: keep everything): ROBOT_BRAIN_RETENTION_CONVERSATIONS_MONTHS,\n' +
        'ROBOT_BRAIN_RETENTION_INTERACTIONS_MONTHS (whole months kept before the current one), archived to\n' +
        'ROBOT_BRAIN_ARCHIVE_DIR before a month is dropped.',
    )
    .action(async (tasks: string[], opts: DbFlags & { json?: boolean; force?: boolean }) => {
      const unknown = tasks.filter((n) => !TASKS.some((t) => t.name === n))
      if (unknown.length) throw new UsageError(`unknown task(s): ${unknown.join(', ')}`)
      const { retention } = upkeepOptionsFromEnv()
      const results = await withStore(opts, (store) =>
        runMaintenance(store, tasks, { force: opts.force, retention }),
      )
      if (opts.json) printJson(results)
      else
        for (const r of results)
          console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.task.padEnd(11)} ${r.detail} (${r.ms} ms)`)
      if (results.some((r) => !r.ok)) process.exitCode = 1
    })
}
