// robot-brain-db doctor: checks the configuration and the database against Neon practice.
// One line per check; exits 1 when any check fails (warnings alone exit 0).
import type { Command } from 'commander'
import type { Check, CheckStatus } from '../doctor/check.js'
import { runDoctor } from '../doctor/run.js'
import { type DbFlags, printJson, storeOptions } from './common.js'

export class ChecksFailedError extends Error {}

function summarize(checks: Check[]): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0, skip: 0 }
  for (const c of checks) counts[c.status]++
  return counts
}

function printChecks(checks: Check[]): void {
  const width = Math.max(...checks.map((c) => c.id.length))
  for (const c of checks) {
    const hint = c.fix ? ` (${c.status === 'ok' ? 'tip' : 'fix'}: ${c.fix})` : ''
    console.log(`${c.status.padEnd(5)} ${c.id.padEnd(width)}  ${c.message}${hint}`)
  }
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description(
      'check the configuration and database against Neon practice: pooled vs direct URLs, sslmode, ' +
        'channel binding, connect timeout, server version, extensions, schema, owner role, runtime role, clock skew. ' +
        'Exits 1 when a check fails',
    )
    .option('--json', 'print the checks as JSON')
    .addHelpText(
      'after',
      `
Each line: ok, warn, fail or skip (not applicable), the check, what was seen, and a fix.
Passwords are never printed. Exit code: 0 when nothing failed (warnings allowed), 1 otherwise.

Examples:
  robot-brain-db doctor
  DATABASE_URL='postgres://app:...@ep-x-pooler.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require' \\
    DATABASE_URL_UNPOOLED='postgres://owner:...@ep-x.us-east-2.aws.neon.tech/neondb?sslmode=require&channel_binding=require' \\
    robot-brain-db doctor --json`,
    )
    .action(async (opts: DbFlags & { json?: boolean }) => {
      const checks = await runDoctor(storeOptions(opts))
      const summary = summarize(checks)
      if (opts.json) printJson({ ok: summary.fail === 0, summary, checks })
      else {
        printChecks(checks)
        console.log(
          `\n${summary.ok} ok, ${summary.warn} warning(s), ${summary.fail} failed, ${summary.skip} skipped`,
        )
      }
      if (summary.fail > 0) throw new ChecksFailedError(`${summary.fail} check(s) failed`)
    })
}
