// Archive and restore: months to Parquet with a manifest, verified before the partition is dropped,
// brought back exactly; a crash after any step (an injected failure, and a real SIGKILL) followed by
// a rerun leaves every row exactly once; an altered archive is refused; retention archives, then drops.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { withRetry } from '../../src/db/retry.js'
import { type ArchiveStep, archiveMonth, type Manifest, monthsBefore } from '../../src/lifecycle/archive.js'
import { exportData } from '../../src/lifecycle/export.js'
import { importLines } from '../../src/lifecycle/import.js'
import { restoreMonth } from '../../src/lifecycle/restore.js'
import { runTasks } from '../../src/maintenance/tasks.js'
import { ensureMonths, PARTITIONED_TABLES } from '../../src/upkeep/partitions.js'
import { openTestStore, runCli, serverBackend, type TestStore, turnInput } from '../support/store.js'

const MONTHS = ['2026-03', '2026-04', '2026-05']

/** Every row and every figure an archive and restore must leave as they were, as text. */
const SNAPSHOT = [
  `SELECT tenant_id, id::text, session_id, robot_personality, user_message, robot_response, metadata::text,
          created_at::text, tableoid::regclass::text AS partition FROM robot_brain.conversations ORDER BY 1, 2`,
  `SELECT tenant_id, id::text, robot_id, interaction_type, duration_ms, success, metadata::text, created_at::text,
          tableoid::regclass::text AS partition FROM robot_brain.robot_interactions ORDER BY 1, 2`,
  `SELECT s.tenant_id, s.id, s.message_count,
          (SELECT count(*)::int FROM robot_brain.conversations c WHERE c.tenant_id = s.tenant_id AND c.session_id = s.id) AS turns
     FROM robot_brain.sessions s ORDER BY 1, 2`,
  'SELECT * FROM robot_brain.personality_rollups ORDER BY 1, 2, 3, 4',
  'SELECT tenant_id, hour::text, robot_id, interaction_type, events, sketch::text FROM robot_brain.interaction_rollups ORDER BY 1, 2, 3, 4',
]

/**
 * Standard error without the progress lines a command prints every 5 s when it runs that long (a busy
 * machine makes even a small restore last that long): what is left is what went wrong.
 */
const withoutProgress = (stderr: string) =>
  stderr.replace(/^(archive|restore) [a-z_]+ \d{4}-\d{2}: [\d,]+ rows \([\d,]+\/s\)\n/gm, '')

describe('archive and restore', () => {
  let t: TestStore
  let dir: string
  let original: unknown[][]

  const snapshot = async () => {
    const out: unknown[][] = []
    for (const q of SNAPSHOT) out.push(await t.ownerQuery(q))
    return out
  }
  const partitionExists = async (name: string) =>
    (
      await t.ownerQuery<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`robot_brain.${name}`])
    )[0]?.t !== null
  const owner = () => t.store.transport.owner
  const archiveAll = async (onStep?: (step: ArchiveStep) => void) => {
    for (const table of PARTITIONED_TABLES)
      for (const m of await monthsBefore(owner(), table, '2026-06'))
        await archiveMonth(owner(), m, dir, { onStep })
  }
  const restoreAll = async () => {
    for (const table of PARTITIONED_TABLES)
      for (const month of MONTHS) await restoreMonth(owner(), dir, table, month)
  }

  beforeAll(async () => {
    t = await openTestStore('archive')
    dir = mkdtempSync(join(tmpdir(), 'rbtest-archive-'))
    for (const table of PARTITIONED_TABLES) await ensureMonths(owner(), table, MONTHS)
    for (const [i, month] of MONTHS.entries()) {
      for (const tenant of ['acme', 'globex']) {
        const store = t.store.tenant(tenant)
        for (let n = 0; n < 3 + i; n++)
          await store.recordTurn(
            turnInput(`s-${n % 2}`, n, {
              createdAt: `${month}-${String(10 + n).padStart(2, '0')}T08:00:00.000Z`,
              metadata: { n, text: 'ünïcode 🤖' },
              ...(n === 0 ? { robotResponse: undefined } : {}),
            }),
          )
        await store.recordInteractions(
          Array.from({ length: 4 }, (_, k) => ({
            robotId: `r-${k}`,
            interactionType: 'wave',
            durationMs: 10 * k,
            success: k !== 1,
            createdAt: `${month}-0${k + 1}T00:00:00Z`,
          })),
        )
      }
    }
    // Microseconds (the API's Date stops at milliseconds).
    // (turn_ids, which remembers each turn's time, moves with them.)
    await t.ownerQuery(
      `UPDATE robot_brain.conversations SET created_at = created_at + interval '7 microseconds'`,
    )
    await t.ownerQuery(`UPDATE robot_brain.turn_ids SET created_at = created_at + interval '7 microseconds'`)
    original = await snapshot()
  }, 240_000)

  afterAll(async () => {
    await t?.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it('archives each month to Parquet with a manifest, drops it, and restores it exactly', async () => {
    await archiveAll()
    for (const month of MONTHS)
      for (const table of PARTITIONED_TABLES)
        expect(await partitionExists(`${table}_p${month.replace('-', '_')}`)).toBe(false)
    expect((await t.counts()).conversations).toBe(0)
    expect((await t.counts()).interactions).toBe(0)
    const manifest = JSON.parse(
      readFileSync(join(dir, 'conversations', '2026-04', 'manifest.json'), 'utf8'),
    ) as Manifest
    expect(manifest.rowsPerTenant).toEqual({ acme: 4, globex: 4 })
    expect(manifest.files[0]?.sha256).toMatch(/^[0-9a-f]{64}$/)
    const index = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))
    expect(index.months.map((m: { table: string; month: string }) => `${m.table} ${m.month}`)).toHaveLength(6)
    // Rollups and session counts are untouched by the drop.
    const during = await snapshot()
    expect(during[3]).toEqual(original[3])
    expect(during[4]).toEqual(original[4])

    // A second run finds every month archived.
    await archiveAll()
    await restoreAll()
    expect(await snapshot()).toEqual(original)
    // Twice: nothing doubles.
    await restoreAll()
    expect(await snapshot()).toEqual(original)
  })

  for (const step of ['detached', 'written', 'verified'] as const) {
    it(`a crash after the ${step} step, then a rerun: every row exactly once`, async () => {
      const crash = (at: ArchiveStep) => {
        if (at === step) throw new Error(`injected crash after ${at}`)
      }
      await expect(archiveAll(crash)).rejects.toThrow(/injected crash/)
      await archiveAll()
      expect((await t.counts()).conversations).toBe(0)
      await restoreAll()
      expect(await snapshot()).toEqual(original)
    })
  }

  it('refuses an altered archive, writing nothing', async () => {
    await archiveAll()
    const part = join(dir, 'conversations', '2026-03', 'part-00000.parquet')
    const bytes = readFileSync(part)
    const flipped = Buffer.from(bytes)
    flipped[Math.floor(bytes.length / 2)] = (flipped[Math.floor(bytes.length / 2)] ?? 0) ^ 0xff
    writeFileSync(part, flipped)
    await expect(restoreMonth(owner(), dir, 'conversations', '2026-03')).rejects.toThrow(/altered/)
    writeFileSync(part, bytes)
    // A manifest edited to match other content: the rows' checksum gives it away.
    const mpath = join(dir, 'conversations', '2026-03', 'manifest.json')
    const manifest = readFileSync(mpath, 'utf8')
    const m = JSON.parse(manifest) as Manifest
    writeFileSync(mpath, JSON.stringify({ ...m, rowsPerTenant: { acme: 5, globex: 1 } }))
    await expect(restoreMonth(owner(), dir, 'conversations', '2026-03')).rejects.toThrow(/per tenant/)
    writeFileSync(mpath, manifest)
    expect((await t.counts()).conversations).toBe(0)
    await restoreAll()
    expect(await snapshot()).toEqual(original)
  })

  it('export and import keep the sessions exact while months are archived', async () => {
    await archiveAll()
    const copy = await openTestStore('archive_copy')
    try {
      let text = ''
      await exportData(owner(), {
        write: async (chunk) => {
          text += chunk
        },
      })
      async function* lines() {
        yield* text.split('\n')
      }
      const summary = await importLines(copy.store.transport.owner, lines())
      expect(summary.errorCount).toBe(0)
      const sessions =
        'SELECT tenant_id, id, message_count, created_at::text, last_active::text FROM robot_brain.sessions ORDER BY 1, 2'
      expect(await copy.ownerQuery(sessions)).toEqual(await t.ownerQuery(sessions))
    } finally {
      await copy.cleanup()
    }
    await restoreAll()
    expect(await snapshot()).toEqual(original)
  })

  it('retention archives the months past the policy, then drops them', async () => {
    const results = await runTasks(
      {
        owner: owner(),
        now: new Date('2026-06-15T00:00:00Z'),
        retention: { conversationsMonths: 2, interactionsMonths: null, archiveDir: dir },
        retry: (fn) => withRetry(fn, t.store.config.retry),
      },
      ['retention'],
    )
    expect(results[0]?.ok).toBe(true)
    expect(results[0]?.detail).toMatch(/conversations 2026-03: 6 rows archived/)
    expect(await partitionExists('conversations_p2026_03')).toBe(false)
    expect(await partitionExists('conversations_p2026_04')).toBe(true)
    expect(await partitionExists('robot_interactions_p2026_03')).toBe(true)
    await restoreMonth(owner(), dir, 'conversations', '2026-03')
    expect(await snapshot()).toEqual(original)
  })

  it('on the command line: killed (SIGKILL) after writing, run again, restored', async () => {
    await t.store.close()
    try {
      const env: Record<string, string> = serverBackend
        ? { DATABASE_URL: t.db.ownerUrl }
        : { ROBOT_BRAIN_DATA_DIR: t.db.dataDir ?? '' }
      const cliDir = join(dir, 'cli')
      const args = ['archive', '--before', '2026-06', '--to', cliDir, '--table', 'conversations']
      const killed = await runCli(args, { ...env, ROBOT_BRAIN_ARCHIVE_KILL_AFTER: 'written' })
      expect(killed.signal).toBe('SIGKILL')
      const again = await runCli([...args, '--json'], env)
      expect(withoutProgress(again.stderr)).toBe('')
      expect(JSON.parse(again.stdout).months.map((m: { month: string }) => m.month)).toEqual(MONTHS)
      const dry = await runCli(
        ['archive', '--before', '2026-06', '--to', cliDir, '--dry-run', '--table', 'conversations'],
        env,
      )
      expect(dry.stdout).toMatch(/nothing to archive before 2026-06/)
      for (const month of MONTHS) {
        const r = await runCli(
          ['restore', '--from', cliDir, '--month', month, '--table', 'conversations'],
          env,
        )
        expect(withoutProgress(r.stderr)).toBe('')
        expect(r.stdout).toMatch(new RegExp(`restored conversations ${month}: \\d+ rows`))
      }
    } finally {
      await t.reopen()
    }
    expect(await snapshot()).toEqual(original)
  }, 240_000)
})
