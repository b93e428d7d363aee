// robot-brain-db branch create|list|delete: a copy of the database to try a migration or a test on.
// Neon: a branch through the Neon API (--at: point in time); plain PostgreSQL: CREATE DATABASE ...
// TEMPLATE; embedded: a copy of the data directory. Never changes the source's data.
import type { Command } from 'commander'
import { type BranchInfo, brancherFor } from '../branch/index.js'
import { BranchError } from '../branch/types.js'
import { resolveConfig } from '../config.js'
import { redactUrl } from '../db/urls.js'
import { type DbFlags, printJson, storeOptions } from './common.js'

function brancher(flags: DbFlags) {
  return brancherFor(resolveConfig(storeOptions(flags)))
}

/** What to set to use the branch: printed in full, as the command's answer. */
function printCreated(b: BranchInfo): void {
  if (b.dataDir) {
    console.log(`branch "${b.name}" created: a copy of ${b.source}`)
    console.log(`ROBOT_BRAIN_DATA_DIR=${b.dataDir}`)
    return
  }
  console.log(`branch "${b.name}" created from ${b.source}${b.at ? ` as it was at ${b.at}` : ''}`)
  console.log(`DATABASE_URL=${b.url}`)
  if (b.directUrl) console.log(`DATABASE_URL_UNPOOLED=${b.directUrl}`)
}

function printList(branches: BranchInfo[]): void {
  if (branches.length === 0) {
    console.log('no branches')
    return
  }
  for (const b of branches) {
    const where = b.dataDir ?? (b.url ? redactUrl(b.url) : '')
    const at = b.at ? ` at ${b.at}` : ''
    console.log(`${b.name.padEnd(24)} ${(b.createdAt ?? '').padEnd(24)} ${b.source}${at} ${where}`.trimEnd())
  }
}

/** Branch errors are usage-level facts (a name taken, sessions in the way): message only, exit 1. */
async function run<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (err instanceof BranchError) throw new Error(err.message)
    throw err
  }
}

export function register(program: Command): void {
  const branch = program
    .command('branch')
    .description(
      'copies of the database for trying a migration or a test: a Neon branch (NEON_API_KEY and NEON_PROJECT_ID; ' +
        '--at for a point in time), a CREATE DATABASE ... TEMPLATE copy on plain PostgreSQL, or a copy of the ' +
        'embedded data directory. The source is never changed',
    )
    .addHelpText(
      'after',
      `
On plain PostgreSQL the copy needs no other session connected to the source database: stop serve and the
other clients first (the command names them, and never disconnects them). The embedded database must not
be open in another process either. Branches go to branches/NAME beside the embedded data directory.
NEON_API_URL points the Neon client at another API address (tests).

Examples:
  robot-brain-db branch create try-0013
  DATABASE_URL=postgres://... robot-brain-db branch create before-incident --at 2026-11-30T09:00:00Z
  robot-brain-db branch list
  robot-brain-db branch delete try-0013`,
    )
  branch
    .command('create <name>')
    .description(
      "create a branch and print the URL (or directory) to use it: DATABASE_URL=... (with the source's credentials)",
    )
    .option(
      '--at <timestamp>',
      'Neon only: the source as it was at this ISO 8601 time (point-in-time restore)',
    )
    .option('--json', 'print the branch as JSON')
    .action(async (name: string, opts: { at?: string; json?: boolean }, cmd: Command) => {
      const b = await run(() => brancher(cmd.optsWithGlobals()).create(name, { at: opts.at }))
      if (opts.json) printJson(b)
      else printCreated(b)
    })
  branch
    .command('list')
    .description('list the branches of this database (URLs without passwords)')
    .option('--json', 'print the branches as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const list = await run(() => brancher(cmd.optsWithGlobals()).list())
      const shown = list.map((b) => ({
        ...b,
        url: b.url && redactUrl(b.url),
        directUrl: b.directUrl && redactUrl(b.directUrl),
      }))
      if (opts.json) printJson(shown)
      else printList(shown)
    })
  branch
    .command('delete <name>')
    .description('delete a branch made by branch create (never the source)')
    .option('--force', 'plain PostgreSQL: disconnect the sessions open on the branch')
    .action(async (name: string, opts: { force?: boolean }, cmd: Command) => {
      await run(() => brancher(cmd.optsWithGlobals()).delete(name, { force: opts.force }))
      console.log(`branch "${name}" deleted`)
    })
}
