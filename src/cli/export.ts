// robot-brain-db export [--tenant T] [--session S] [--user U] [--out FILE] [--dry-run] [--json]:
// sessions (each followed by its turns) and interaction events as JSON lines, streamed.
import { once } from 'node:events'
import { createWriteStream, renameSync, rmSync } from 'node:fs'
import type { Writable } from 'node:stream'
import type { Command } from 'commander'
import type { Queryable, SqlQuery } from '../db/pool.js'
import { withRetry } from '../db/retry.js'
import { ValidationError } from '../errors.js'
import { type ExportFilters, type ExportSummary, exportData } from '../lifecycle/export.js'
import { Progress } from '../lifecycle/progress.js'
import { LIMITS } from '../store/limits.js'
import * as v from '../store/validate.js'
import { type DbFlags, UsageError, withStore } from './common.js'

interface ExportFlags extends DbFlags {
  tenant?: string
  session?: string
  user?: string
  out?: string
  dryRun?: boolean
  json?: boolean
}

function filters(opts: ExportFlags): ExportFilters {
  try {
    return {
      tenant: opts.tenant === undefined ? undefined : v.tenantId(opts.tenant),
      session:
        opts.session === undefined ? undefined : v.identifier('--session', opts.session, LIMITS.sessionIdMax),
      user: opts.user === undefined ? undefined : v.identifier('--user', opts.user, LIMITS.userIdMax),
    }
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(err.message.replace(/^tenant:/, '--tenant:'))
    throw err
  }
}

/** Writes with backpressure: waits for 'drain' when the stream's buffer is full. */
function writer(stream: Writable): (chunk: string) => Promise<void> {
  return async (chunk) => {
    if (!stream.write(chunk)) await once(stream, 'drain')
  }
}

export function register(program: Command): void {
  program
    .command('export')
    .description(
      'write sessions, turns and interaction events as JSON lines (standard output by default), ' +
        'one object a line: {"type":"session"|"turn"|"interaction", "tenantId", ...the HTTP API fields}',
    )
    .option('--tenant <tenant>', 'only this tenant (default: every tenant)')
    .option('--session <id>', 'only this session and its turns (no interaction events)')
    .option('--user <id>', "only this user's sessions and their turns (no interaction events)")
    .option('--out <file>', 'write to this file (made complete or not at all) instead of standard output')
    .option('--dry-run', 'count what would be exported, write nothing')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      '\nTimestamps carry microseconds; `import` reads the same lines back exactly. Progress and the\n' +
        'summary go to standard error when the data goes to standard output.',
    )
    .action(async (opts: ExportFlags) => {
      const f = filters(opts)
      const toStdout = opts.out === undefined && !opts.dryRun
      const report = (s: ExportSummary & { dryRun: boolean; ms: number }) => {
        const text = opts.json
          ? JSON.stringify(s)
          : `${s.dryRun ? 'would export' : 'exported'} ${s.sessions.toLocaleString('en-US')} sessions, ` +
            `${s.turns.toLocaleString('en-US')} turns, ${s.interactions.toLocaleString('en-US')} interaction events ` +
            `in ${(s.ms / 1000).toFixed(1)} s`
        if (toStdout) process.stderr.write(`${text}\n`)
        else process.stdout.write(`${text}\n`)
      }
      await withStore(opts, async (store) => {
        const progress = new Progress('export', 'rows')
        // Every export query is a read: safe to retry after a dropped connection.
        const pool = store.transport.owner
        const owner: Queryable = {
          query: <R>(q: SqlQuery | string) => withRetry(() => pool.query<R>(q), store.config.retry),
        }
        if (opts.dryRun) {
          const summary = await exportData(owner, {
            filters: f,
            write: async () => {},
            onProgress: (n) => progress.update(n),
          })
          progress.finish()
          report({ ...summary, dryRun: true, ms: progress.elapsedMs() })
          return
        }
        // A reader that stops early (`| head`): end quietly, as other command-line tools do.
        process.stdout.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'EPIPE') process.exit(0)
        })
        const partial = opts.out === undefined ? undefined : `${opts.out}.partial`
        const stream: Writable = partial ? createWriteStream(partial) : process.stdout
        try {
          const summary = await exportData(owner, {
            filters: f,
            write: writer(stream),
            onProgress: (n) => progress.update(n),
            open: store.contentOpener(),
          })
          if (partial && opts.out) {
            stream.end()
            await once(stream, 'finish')
            renameSync(partial, opts.out)
          }
          progress.finish()
          report({ ...summary, dryRun: false, ms: progress.elapsedMs() })
        } catch (err) {
          if (partial) {
            stream.destroy()
            rmSync(partial, { force: true })
          }
          throw err
        }
      })
    })
}
