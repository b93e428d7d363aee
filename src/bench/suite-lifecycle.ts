// Suite `lifecycle`: archive and restore of a month of turns, export and import of the same turns,
// each run as the `robot-brain-db` command in a child process, as an operator runs it: rows per second
// (wall time of the command, start-up included) and the command's peak RSS (reported by the child
// itself at exit, see peak-rss.ts). Export is also run on a tenant a tenth the size: the same peak
// RSS at both sizes is what "memory does not grow with the data" means. A database of its own (and a
// second, empty one to import into), loaded server-side: one past month of turns for one tenant,
// a tenth of that for another tenant in the next month.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { monthStart } from '../upkeep/partitions.js'
import { ROBOT_RESPONSE, USER_MESSAGE } from './payload.js'
import type { RunLog } from './run-log.js'
import { benchOwnerPool, createBenchDatabase, type ServerOptions } from './server.js'

export interface LifecycleProfile {
  /** Turns of the month archived, restored, exported and imported. */
  turns: number
  turnsPerSession: number
}

export const PROFILES: Record<'quick' | 'full', LifecycleProfile> = {
  quick: { turns: 20_000, turnsPerSession: 50 },
  full: { turns: 1_000_000, turnsPerSession: 50 },
}

export interface LifecycleRow {
  operation: string
  rows: number
  seconds: number
  rowsPerS: number
  peakRssMb: number
  note: string
}

const BIG = 'bench-lifecycle'
const SMALL = 'bench-lifecycle-small'

// $1 tenant, $2 month start, $3 span in seconds for session starts, $4 turns per session, $5..$6 the
// sessions. Message lengths vary; one turn in twenty awaits its answer.
const SESSION_START = `$2::timestamptz + make_interval(secs => $3::float8 * (s * 0.6180339887498949 - floor(s * 0.6180339887498949)))`
const LOAD_SESSIONS = `
INSERT INTO robot_brain.sessions (tenant_id, id, user_id, created_at, last_active, message_count, turns_from, turns_to)
SELECT $1, 'l' || s, 'u' || (s % 97), st, st + ($4::int - 1) * interval '30 seconds', $4::int,
       st, st + ($4::int - 1) * interval '30 seconds'
FROM generate_series($5::int, $6::int - 1) s, LATERAL (SELECT ${SESSION_START} AS st) t`
const LOAD_TURNS = `
INSERT INTO robot_brain.conversations
  (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
SELECT $1, md5($1 || ':' || s || ':' || k)::uuid, 'l' || s, (ARRAY['cheerful', 'stoic', 'pirate'])[1 + s % 3],
       left($7, 10 + (s * 7 + k * 13) % 80),
       CASE WHEN (s + k) % 20 = 0 THEN NULL ELSE left($8, 20 + (s * 11 + k * 17) % 240) END,
       jsonb_build_object('channel', 'web', 'k', k), st + k * interval '30 seconds' + (s % 1000) * interval '1 microsecond'
FROM generate_series($5::int, $6::int - 1) s, LATERAL (SELECT ${SESSION_START} AS st) t,
     generate_series(0, $4::int - 1) k`

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'robot-brain-db.js')
const PEAK_RSS = join(dirname(fileURLToPath(import.meta.url)), 'peak-rss.js')

interface Measured {
  seconds: number
  peakRssMb: number
  stdout: string
}

/** Runs the command in a child process; its peak RSS comes from the child itself. */
async function command(args: string[], dir: string): Promise<Measured> {
  const rssFile = join(dir, `rss-${process.hrtime.bigint()}.json`)
  const t0 = performance.now()
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, ['--import', PEAK_RSS, BIN, ...args], {
        env: { ...process.env, ROBOT_BRAIN_BENCH_RSS_FILE: rssFile, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      let err = ''
      child.stdout.on('data', (d) => {
        out += d
      })
      child.stderr.on('data', (d) => {
        err = (err + d).slice(-4000)
      })
      child.on('error', reject)
      child.on('close', (c) => resolve({ code: c, stdout: out, stderr: err }))
    },
  )
  const seconds = (performance.now() - t0) / 1000
  if (code !== 0) throw new Error(`robot-brain-db ${args[0]} exited with ${code}: ${stderr.trim()}`)
  const { maxRssBytes } = JSON.parse(readFileSync(rssFile, 'utf8')) as { maxRssBytes: number }
  return { seconds, peakRssMb: maxRssBytes / 1024 / 1024, stdout }
}

function row(operation: string, rows: number, m: Measured, note = ''): LifecycleRow {
  return { operation, rows, seconds: m.seconds, rowsPerS: rows / m.seconds, peakRssMb: m.peakRssMb, note }
}

export interface LifecycleRunOptions extends ServerOptions {
  mode: 'quick' | 'full'
  keep: boolean
}

/** Runs the suite on PostgreSQL direct; returns the server's version. */
export async function lifecycleRun(
  opts: LifecycleRunOptions,
  run: RunLog,
  rows: LifecycleRow[],
): Promise<string | undefined> {
  const p = PROFILES[opts.mode]
  const record = (r: LifecycleRow) => {
    rows.push(r)
    run.log(
      `  lifecycle ${r.operation}: ${r.rows.toLocaleString('en-US')} rows in ${r.seconds.toFixed(1)} s, ` +
        `${Math.round(r.rowsPerS).toLocaleString('en-US')} rows/s, peak RSS ${r.peakRssMb.toFixed(0)} MB`,
    )
  }
  run.log('lifecycle: creating a database of its own and an empty one to import into')
  const source = await createBenchDatabase(opts, 'life')
  const target = await createBenchDatabase(opts, 'lifeimp')
  const work = mkdtempSync(join(tmpdir(), 'robot-brain-bench-lifecycle-'))
  const owner = benchOwnerPool(source.ownerUrl, 1)
  try {
    const url = ['--url', source.ownerUrl]
    await command(['migrate', ...url], work)
    await command(['migrate', '--url', target.ownerUrl], work)
    // The month archived: three months back; the small tenant's month: the one after it.
    const month = monthStart(new Date(), -3)
    const next = monthStart(new Date(), -2)
    const client = await owner.connect()
    // A connection ended by the server fails the next query (recorded), not the whole process.
    ;(client as unknown as { on?(event: 'error', fn: () => void): void }).on?.('error', () => {})
    try {
      for (const m of [month, next])
        await client.query({
          text: `SELECT robot_brain.ensure_month_partition(t, $1::date)
                   FROM unnest(ARRAY['conversations', 'robot_interactions']) t`,
          values: [m],
        })
      // Triggers off for the load (search vectors, id claims: not what is measured).
      await client.query('SET session_replication_role = replica')
      const span = 27 * 86_400 - p.turnsPerSession * 30
      const load = async (tenant: string, start: string, turns: number) => {
        const sessions = Math.ceil(turns / p.turnsPerSession)
        const chunk = Math.max(1, Math.floor(200_000 / p.turnsPerSession))
        for (let a = 0; a < sessions; a += chunk) {
          const b = Math.min(sessions, a + chunk)
          const v = [tenant, `${start}T00:00:00Z`, span, p.turnsPerSession, a, b]
          await client.query({ text: LOAD_SESSIONS, values: v })
          await client.query({ text: LOAD_TURNS, values: [...v, USER_MESSAGE.repeat(2), ROBOT_RESPONSE] })
        }
        return sessions
      }
      const t0 = performance.now()
      const bigSessions = await load(BIG, month, p.turns)
      const smallSessions = await load(SMALL, next, p.turns / 10)
      await client.query('RESET session_replication_role')
      await client.query('VACUUM (ANALYZE) robot_brain.conversations, robot_brain.sessions')
      run.log(
        `lifecycle: loaded ${p.turns.toLocaleString('en-US')} turns in ${month.slice(0, 7)} and ` +
          `${(p.turns / 10).toLocaleString('en-US')} in ${next.slice(0, 7)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      )

      // Export: the small tenant, then the big one; the same peak RSS means memory is flat.
      const small = join(work, 'small.jsonl')
      const big = join(work, 'big.jsonl')
      record(
        row(
          `export (--tenant, ${(p.turns / 10).toLocaleString('en-US')} turns)`,
          p.turns / 10 + smallSessions,
          await command(['export', '--tenant', SMALL, '--out', small, ...url], work),
          'sessions and turns',
        ),
      )
      const exported = await command(['export', '--tenant', BIG, '--out', big, ...url], work)
      const mb = statSync(big).size / 1024 / 1024
      record(
        row(
          `export (--tenant, ${p.turns.toLocaleString('en-US')} turns)`,
          p.turns + bigSessions,
          exported,
          `${mb.toFixed(0)} MB of JSON lines`,
        ),
      )
      rmSync(small, { force: true })

      // Import into the empty database, then again (idempotent: everything already present).
      const imported = await command(['import', big, '--json', '--url', target.ownerUrl], work)
      const summary = JSON.parse(imported.stdout) as { turns: { inserted: number }; errorCount: number }
      if (summary.turns.inserted !== p.turns || summary.errorCount !== 0)
        run.error(`lifecycle import stored ${summary.turns.inserted} of ${p.turns} turns`)
      record(row('import (empty database)', p.turns + bigSessions, imported, 'validated, rollups kept'))
      const again = await command(['import', big, '--json', '--url', target.ownerUrl], work)
      const second = JSON.parse(again.stdout) as { turns: { inserted: number; present: number } }
      if (second.turns.inserted !== 0)
        run.error(`lifecycle: a second import stored ${second.turns.inserted} turns`)
      record(row('import again (nothing to store)', p.turns + bigSessions, again, 'every line validated'))
      rmSync(big, { force: true })

      // Archive the big month (written, read back, verified, dropped), then restore it.
      const archiveDir = join(work, 'archive')
      const archived = await command(
        ['archive', '--before', next.slice(0, 7), '--to', archiveDir, '--table', 'conversations', ...url],
        work,
      )
      record(
        row(
          `archive a month (${p.turns.toLocaleString('en-US')} turns)`,
          p.turns,
          archived,
          'Parquet written, read back and verified, partition dropped',
        ),
      )
      const restored = await command(
        ['restore', '--from', archiveDir, '--month', month.slice(0, 7), '--table', 'conversations', ...url],
        work,
      )
      record(row(`restore that month`, p.turns, restored, 'archive verified first'))
      const { rows: back } = await client.query<{ n: string }>({
        text: 'SELECT count(*) AS n FROM robot_brain.conversations WHERE tenant_id = $1',
        values: [BIG],
      })
      if (Number(back[0]?.n) !== p.turns)
        run.error(`lifecycle: restore brought back ${back[0]?.n} of ${p.turns} turns`)
      else run.checks.push(`lifecycle: archive then restore of ${p.turns} turns: every turn back`)
      client.release()
    } catch (err) {
      client.release(err as Error)
      throw err
    }
  } finally {
    await owner.end().catch(() => {})
    rmSync(work, { recursive: true, force: true })
    for (const db of [source, target]) {
      if (opts.keep) run.log(`kept database ${db.name}`)
      else await db.drop().catch((err) => run.error(`dropping ${db.name}: ${(err as Error).message}`))
    }
  }
  return source.serverVersion
}

export function lifecycleMarkdown(rows: LifecycleRow[]): string[] {
  if (rows.length === 0) return []
  return [
    '',
    '## Lifecycle (the command in a child process, PostgreSQL direct)',
    '',
    '| operation | rows | seconds | rows/s | peak RSS MB | note |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map(
      (r) =>
        `| ${r.operation} | ${r.rows.toLocaleString('en-US')} | ${r.seconds.toFixed(1)} | ` +
        `${Math.round(r.rowsPerS).toLocaleString('en-US')} | ${r.peakRssMb.toFixed(0)} | ${r.note} |`,
    ),
  ]
}
