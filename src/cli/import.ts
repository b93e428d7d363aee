// robot-brain-db import FILE|- [--dry-run] [--json]: JSON lines as `export` writes them, idempotent.
import { createReadStream, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import type { Command } from 'commander'
import { withRetry } from '../db/retry.js'
import { type ImportSummary, importLines } from '../lifecycle/import.js'
import { Progress } from '../lifecycle/progress.js'
import { type DbFlags, UsageError, withStore } from './common.js'

interface ImportFlags extends DbFlags {
  dryRun?: boolean
  json?: boolean
  batchSize?: string
}

const n = (x: number) => x.toLocaleString('en-US')

function describe(s: ImportSummary, ms: number): string {
  const part = (name: string, c: { inserted: number; present: number }) =>
    `${n(c.inserted)} ${name}${s.dryRun ? '' : ` (${n(c.present)} already present)`}`
  return (
    `${s.dryRun ? 'checked' : 'imported'} ${n(s.lines)} lines in ${(ms / 1000).toFixed(1)} s: ` +
    `${part('sessions', s.sessions)}, ${part('turns', s.turns)}, ${part('interaction events', s.interactions)}` +
    (s.errorCount ? `; ${n(s.errorCount)} bad line(s), nothing of them stored` : '')
  )
}

export function register(program: Command): void {
  program
    .command('import')
    .description(
      'read JSON lines as `export` writes them (a file, or - for standard input) and store what is not ' +
        'stored yet: importing twice changes nothing. Every line is checked with the API limits; a bad ' +
        'line is reported with its number and nothing of it is stored. Migrates first if needed.',
    )
    .argument('<file>', 'the file to read, or - for standard input')
    .option('--dry-run', 'check every line, store nothing')
    .option('--json', 'print the summary as JSON')
    .option('--batch-size <n>', 'lines per batch, written with one statement per type of line (default 500)')
    .action(async (file: string, opts: ImportFlags) => {
      const batchSize = opts.batchSize === undefined ? 500 : Number(opts.batchSize)
      if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
        throw new UsageError(`--batch-size must be a whole number from 1 to 10000, got "${opts.batchSize}"`)
      let input: Readable
      let size = 0
      if (file === '-') input = process.stdin
      else {
        try {
          size = statSync(file).size
        } catch {
          throw new UsageError(`cannot read ${file}: no such file`)
        }
        input = createReadStream(file)
      }
      const summary = await withStore(opts, async (store) => {
        if (!opts.dryRun) await store.migrate()
        const progress = new Progress(opts.dryRun ? 'check' : 'import', 'lines')
        const stream = input as Readable & { bytesRead?: number }
        const result = await importLines(
          store.transport.owner,
          createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }),
          {
            dryRun: opts.dryRun,
            batchSize,
            retry: (fn) => withRetry(fn, store.config.retry),
            onProgress: (lines) =>
              progress.update(lines, size > 0 ? (stream.bytesRead ?? 0) / size : undefined),
            onError: (e) => {
              progress.finish()
              process.stderr.write(`line ${e.line}: ${e.field}: ${e.message}\n`)
            },
          },
        )
        progress.finish()
        return { result, ms: progress.elapsedMs() }
      })
      if (opts.json) process.stdout.write(`${JSON.stringify(summary.result)}\n`)
      else process.stdout.write(`${describe(summary.result, summary.ms)}\n`)
      if (summary.result.errorCount > 0) process.exitCode = 1
    })
}
