// robot-brain-db seed: plausible demo data in bulk (sessions × turns, interaction events) over a date range.
import { randomInt } from 'node:crypto'
import type { Command } from 'commander'
import type { SeedPlan } from '../seed/generate.js'
import { ProgressBar } from '../seed/progress.js'
import { runSeed, type SeedSummary } from '../seed/run.js'
import { isPersonality, PERSONALITIES, type Personality } from '../seed/voices.js'
import { tenantId } from '../store/validate.js'
import { type DbFlags, printJson, UsageError, withStore } from './common.js'

interface SeedFlags extends DbFlags {
  sessions: string
  turns: string
  events: string
  from?: string
  to?: string
  tenant: string
  personalities?: string
  seed?: string
  batchSize: string
  json?: boolean
}

const DAY_MS = 86_400_000
const MAX_RANGE_DAYS = 3650

function count(flag: string, value: string, min: number, max: number): number {
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `--${flag} must be a whole number from ${min} to ${max.toLocaleString('en-US')}, got "${value}"`,
    )
  }
  return n
}

function date(flag: string, value: string): Date {
  // A bare date is midnight UTC (as Date.parse reads YYYY-MM-DD); a date-time without a zone is read
  // as UTC too, not local time, so the same flags give the same rows on every machine.
  const zoneless = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value)
  const ms = Date.parse(zoneless ? `${value}Z` : value)
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw new UsageError(
      `--${flag} must be an ISO date or date-time (2025-01-31 or 2025-01-31T12:00:00Z), got "${value}"`,
    )
  }
  return new Date(ms)
}

function personalities(value: string | undefined): Personality[] {
  if (value === undefined) return [...PERSONALITIES]
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  const unknown = names.filter((n) => !isPersonality(n))
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `--personalities: unknown ${unknown.map((n) => `"${n}"`).join(', ') || '(empty list)'}; choose from ${PERSONALITIES.join(', ')}`,
    )
  }
  return [...new Set(names)] as Personality[]
}

function tenantOption(value: string): string {
  try {
    return tenantId(value)
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`)
  }
}

/** Flags → a plan. The default range ends at the current whole hour, so a --seed repeats within the hour. */
export function seedPlan(flags: SeedFlags): SeedPlan {
  const to = flags.to ? date('to', flags.to) : new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000)
  const from = flags.from ? date('from', flags.from) : new Date(to.getTime() - 30 * DAY_MS)
  if (from.getTime() >= to.getTime()) throw new UsageError('--from must be before --to')
  // UUIDv7 ids count milliseconds from 1970; and each month of the range gets two partitions.
  if (from.getTime() < 0) throw new UsageError('--from must be 1970-01-01 or later')
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS) {
    throw new UsageError(
      `--from to --to must span at most ${MAX_RANGE_DAYS / 365} years (one partition per month)`,
    )
  }
  return {
    sessions: count('sessions', flags.sessions, 0, 100_000_000),
    turns: count('turns', flags.turns, 1, 100_000),
    events: count('events', flags.events, 0, 1_000_000_000),
    from,
    to,
    personalities: personalities(flags.personalities),
    seed: flags.seed === undefined ? randomInt(2 ** 31) : count('seed', flags.seed, 0, 2 ** 32 - 1),
    batchSize: count('batch-size', flags.batchSize, 1, 50_000),
  }
}

function printSummary(s: SeedSummary): void {
  const n = (x: number) => x.toLocaleString('en-US')
  console.log(`seeded tenant "${s.tenant}" with seed ${s.seed}, ${s.from} to ${s.to}`)
  console.log(`  sessions    ${n(s.sessionsCreated)} created`)
  console.log(`  turns       ${n(s.turns)}`)
  console.log(`  events      ${n(s.events)}`)
  console.log(`  partitions  ${n(s.partitionsCreated)} created`)
  if (s.skipped.turns || s.skipped.events) {
    console.log(
      `  skipped     ${n(s.skipped.turns)} turns, ${n(s.skipped.events)} events (ids already stored)`,
    )
  }
  console.log(`  ${s.seconds.toFixed(2)} s, ${n(s.rowsPerSecond)} rows/s`)
}

export function register(program: Command): void {
  program
    .command('seed')
    .description(
      'write plausible demo data in bulk: sessions × turns in several robot personalities, and ' +
        'interaction events, spread over a date range (as the owner, on the direct URL; migrates first)',
    )
    .option('--sessions <n>', 'sessions to create', '100')
    .option('--turns <n>', 'turns per session (exactly)', '10')
    .option('--events <n>', 'robot interaction events in total', '1000')
    .option(
      '--from <date>',
      'start of the range, ISO date or date-time, UTC unless a zone is given (default: 30 days before --to)',
    )
    .option('--to <date>', 'end of the range, exclusive (default: the current hour, rounded down)')
    .option('--tenant <id>', 'tenant the rows belong to', 'default')
    .option('--personalities <list>', `comma-separated, from: ${PERSONALITIES.join(', ')} (default: all)`)
    .option(
      '--seed <n>',
      'random seed: the same seed and range give the same rows (default: random, printed)',
    )
    .option('--batch-size <n>', 'rows per INSERT statement', '5000')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      `
Examples:
  robot-brain-db seed --sessions 1000 --turns 20 --events 50000 --seed 7
  robot-brain-db seed --sessions 100000 --turns 10 --from 2025-01-01 --to 2025-07-01 --tenant acme
  robot-brain-db seed --personalities pirate,zen --json

Rows already stored (same --seed and range again) are skipped, and nothing is counted twice.`,
    )
    .action(async (flags: SeedFlags) => {
      const plan = seedPlan(flags)
      const tenant = tenantOption(flags.tenant)
      await withStore(flags, async (store) => {
        const states = await store.migrationStatus()
        if (states.some((s) => s.status === 'pending')) {
          const { applied } = await store.migrate()
          for (const m of applied) console.error(`applied ${m.name}`)
        }
        const bar = new ProgressBar(plan.sessions * plan.turns + plan.events, 'seeding')
        const summary = await runSeed(store.transport.owner, tenant, plan, (done) => bar.update(done))
        bar.finish()
        if (flags.json) printJson(summary)
        else printSummary(summary)
      })
    })
}
