// robot-brain-db bench [--quick] [--suites ...] [--targets ...] [--keep] [--out dir]
// Measures the store against raw-driver baselines in the same run; see docs/bench.md.
import { performance } from 'node:perf_hooks'
import type { Command } from 'commander'
import type { TargetName } from '../bench/targets.js'
import { UsageError } from './common.js'

const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

function list<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new UsageError(`${flag}: "${item}" is not one of ${allowed.join(', ')}`)
    }
  }
  if (items.length === 0) throw new UsageError(`${flag}: give at least one of ${allowed.join(', ')}`)
  return items as T[]
}

/**
 * The benchmark code is compiled with the rest but left out of the npm package: it needs the
 * repository's dev dependencies (autocannon, pg-copy-streams) and writes into its bench/ folder.
 */
async function loadBench() {
  try {
    const [runner, report] = await Promise.all([import('../bench/runner.js'), import('../bench/report.js')])
    return { ...runner, markdown: report.markdown }
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw err
    throw new Error(
      'bench runs from a clone of the source repository (npm install && npm run bench): the npm package ' +
        `does not ship the benchmarks or their dev dependencies (${(err as Error).message.split('\n')[0]})`,
    )
  }
}

/**
 * The command that repeats this run, flags as given (`npm run bench -- --suites search ...`), for the
 * report's "reproduce" line. A password in a URL is replaced by ***: the report is committed.
 */
export function reproduceCommand(argv: readonly string[]): string {
  const at = argv.indexOf('bench')
  const args = (at < 0 ? [] : argv.slice(at + 1)).map((arg) => {
    const shown = arg.replace(/(\w[\w+.-]*:\/\/[^:/?#@]*:)[^@/?#]*@/, '$1***@')
    return /^[\w@%+=:,./-]+$/.test(shown) ? shown : `'${shown.replaceAll("'", "'\\''")}'`
  })
  return args.length ? `npm run bench -- ${args.join(' ')}` : 'npm run bench'
}

interface BenchFlags {
  quick?: boolean
  suites: string
  targets: string
  url?: string
  pgbouncer: string
  appLogin: string
  out: string
  keep?: boolean
  searchDb?: string
  json?: boolean
}

export function register(program: Command): void {
  program
    .command('bench')
    .description(
      'measure the store against raw-driver baselines (turn ingest, history, interactions, HTTP, search) ' +
        'on a database of its own, and write bench/results/latest.{json,md}; ' +
        'runs from a clone of the source repository (npm run bench), not from the installed package',
    )
    .option('--quick', 'short rounds and small data sets (under two minutes, for CI)')
    .option(
      '--suites <list>',
      'suites to run: turns,history,interactions,http,partitions,search,analytics,lifecycle,encryption',
      'turns,history,interactions,http,partitions,search,analytics,lifecycle,encryption',
    )
    .option(
      '--targets <list>',
      'ways to reach the database: pg,pgbouncer,neon,pglite',
      'pg,pgbouncer,neon,pglite',
    )
    .option(
      '--pgbouncer <host:port>',
      'PgBouncer in transaction mode in front of the server, or "none"',
      '127.0.0.1:6432',
    )
    .option(
      '--url <url>',
      `administrator URL of the server to run on (default: ROBOT_BRAIN_BENCH_URL or ${DEFAULT_ADMIN_URL}; DATABASE_URL is not read)`,
    )
    .option('--app-login <role>', 'login role the store uses through PgBouncer', 'robot_brain_test_app')
    .option('--out <dir>', 'where to write the results', 'bench/results')
    .option('--keep', 'keep the bench database (default: drop it at the end)')
    .option(
      '--search-db <name>',
      'search suite: measure speed only, on this database kept (--keep) by an earlier run, at the size it holds, instead of loading one (1M turns take over an hour to load and index on two cores)',
    )
    .option('--json', 'print the report as JSON instead of the Markdown table')
    .addHelpText(
      'after',
      '\nThe server is given by --url (an administrator URL: the run creates and drops a database ' +
        `rbbench_<time>), default ${DEFAULT_ADMIN_URL}. DATABASE_URL is not read: a benchmark must never ` +
        'land on an application database by accident.',
    )
    .action(async (opts: BenchFlags) => {
      const { SUITES, TARGETS, runBench, markdown } = await loadBench()
      const suites = list('--suites', opts.suites, SUITES)
      const targets = list<TargetName>('--targets', opts.targets, TARGETS)
      const adminUrl = opts.url ?? process.env.ROBOT_BRAIN_BENCH_URL ?? DEFAULT_ADMIN_URL
      try {
        new URL(adminUrl)
      } catch {
        throw new UsageError('--url: not a valid database URL')
      }
      if (opts.searchDb !== undefined && !/^[a-z0-9_]{1,63}$/.test(opts.searchDb))
        throw new UsageError('--search-db: a database name of lower-case letters, digits and _')
      const mode = opts.quick ? 'quick' : 'full'
      const t0 = performance.now()
      const report = await runBench({
        mode,
        suites,
        targets,
        adminUrl,
        pgbouncer: opts.pgbouncer === 'none' ? null : opts.pgbouncer,
        appLogin: opts.appLogin,
        outDir: opts.out,
        keep: Boolean(opts.keep),
        searchDb: opts.searchDb,
        command: reproduceCommand(process.argv),
        log: (msg) =>
          process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`),
      })
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : markdown(report))
      if (report.errors.length > 0) {
        throw new Error(`the bench run had ${report.errors.length} error(s); see the report`)
      }
    })
}
