// robot-brain-db audit verify: checks every chain of the audit log (owner connection, direct URL);
// exit 1 naming the first bad entry of each broken chain. audit list: a tenant's entries.
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { checkSavedHeads, parseSavedHeads, verifyAudit } from '../security/audit-verify.js'
import { type DbFlags, printJson, UsageError, withStore } from './common.js'

interface AuditFlags extends DbFlags {
  json?: boolean
  heads?: string
}

export function register(program: Command): void {
  const audit = program
    .command('audit')
    .description('the tamper-evident audit log (one hash chain per tenant)')

  audit
    .command('verify')
    .description(
      "recompute every entry's hash and link; exit 1 naming the first bad entry of each chain when an\n" +
        "entry was edited, removed or reordered. Prints each chain's head: keep a copy elsewhere, since\n" +
        'removing the newest entries of a chain can only be seen against an earlier head.',
    )
    .option('--json', 'print the result as JSON')
    .option(
      '--heads <file>',
      'also check the heads saved from an earlier `audit verify --json` (finds removed newest entries)',
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals() as AuditFlags
      let saved: ReturnType<typeof parseSavedHeads> | undefined
      if (opts.heads) {
        try {
          saved = parseSavedHeads(readFileSync(opts.heads, 'utf8'))
        } catch (err) {
          throw new UsageError(`--heads ${opts.heads}: ${(err as Error).message}`)
        }
      }
      await withStore(opts, async (store) => {
        const result = await verifyAudit(store.transport.owner)
        if (saved) await checkSavedHeads(store.transport.owner, result, saved)
        if (opts.json) printJson(result)
        else {
          for (const p of result.problems) {
            console.error(`bad entry: tenant "${p.tenant}" position ${p.seq} (id ${p.id}): ${p.problem}`)
          }
          for (const h of result.heads) console.log(`chain "${h.tenant}": ${h.seq} entries, head ${h.hash}`)
          console.log(
            result.ok
              ? `audit log intact: ${result.entries} entries in ${result.heads.length} chains`
              : `audit log ALTERED: ${result.problems.length} chain(s) broken`,
          )
        }
        if (!result.ok) process.exitCode = 1
      })
    })

  audit
    .command('list')
    .description("a tenant's entries, oldest first")
    .requiredOption('--tenant <tenant>', 'the tenant')
    .option('--from <time>', 'entries at or after this time (ISO 8601)')
    .option('--to <time>', 'entries before this time (ISO 8601)')
    .option('--limit <n>', 'at most this many (1 to 1000)', '100')
    .option('--json', 'print the entries as JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals() as AuditFlags & {
        tenant: string
        from?: string
        to?: string
        limit: string
      }
      await withStore(opts, async (store) => {
        const page = await store
          .tenant(opts.tenant)
          .audit.list({ from: opts.from, to: opts.to, limit: Number(opts.limit) })
        if (opts.json) return printJson(page)
        for (const e of page.events) {
          console.log([e.at, e.actor, e.action, e.target || '-', JSON.stringify(e.details)].join('  '))
        }
      })
    })
}
