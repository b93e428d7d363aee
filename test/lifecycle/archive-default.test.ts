// Rows written while their month had no partition sit in the default partition: `archive --before`
// moves them into their month's partition first and archives that month like any other (verified,
// then dropped); `--dry-run` lists them; restore brings them back exactly, in their month's partition.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/lifecycle/archive.js'
import { restoreMonth } from '../../src/lifecycle/restore.js'
import { openTestStore, runCli, serverBackend, type TestStore, turnInput } from '../support/store.js'

const ROWS = `
SELECT 'turn' AS kind, tenant_id, id::text, session_id, user_message, robot_response, metadata::text, created_at::text,
       tableoid::regclass::text AS partition FROM robot_brain.conversations
UNION ALL
SELECT 'event', tenant_id, id::text, robot_id, interaction_type, duration_ms::text, metadata::text, created_at::text,
       tableoid::regclass::text FROM robot_brain.robot_interactions
ORDER BY 1, 2, 3`

describe('archive of rows in the default partition', () => {
  let t: TestStore
  let dir: string
  let original: Array<Record<string, string>>

  beforeAll(async () => {
    t = await openTestStore('archive_default')
    dir = mkdtempSync(join(tmpdir(), 'rbtest-archive-default-'))
    const store = t.store.tenant('acme')
    // 2025-11 and 2025-12 have no partition (a new database makes this month and three ahead).
    for (const [n, at] of ['2025-11-03T10:00:00.000Z', '2025-12-24T18:30:00.000Z'].entries()) {
      await store.recordTurn(turnInput('s-old', n, { createdAt: at, metadata: { n } }))
      await store.recordInteractions([
        { robotId: 'r-1', interactionType: 'wave', durationMs: 5 + n, success: true, createdAt: at },
      ])
    }
    await store.recordTurn(turnInput('s-new', 0))
    original = await t.ownerQuery<Record<string, string>>(ROWS)
    const old = original.filter((r) => r.created_at?.startsWith('2025'))
    expect(old).toHaveLength(4)
    expect(old.every((r) => r.partition?.endsWith('_default'))).toBe(true)
  }, 120_000)

  afterAll(async () => {
    await t?.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it('archives them by month, verified, and restores them exactly', async () => {
    await t.store.close()
    try {
      const env: Record<string, string> = serverBackend
        ? { DATABASE_URL: t.db.ownerUrl }
        : { ROBOT_BRAIN_DATA_DIR: t.db.dataDir ?? '' }
      const dry = await runCli(['archive', '--before', '2026-01', '--to', dir, '--dry-run'], env)
      expect(dry.stdout).toMatch(/would archive conversations 2025-11: 1 rows .*in the default partition/)
      expect(dry.stdout).toMatch(
        /would archive robot_interactions 2025-12: 1 rows .*in the default partition/,
      )
      const run = await runCli(['archive', '--before', '2026-01', '--to', dir, '--json'], env)
      // (Progress lines may go to standard error; errors would end it non-zero.)
      expect(run.code).toBe(0)
      const months = JSON.parse(run.stdout).months as Array<{ table: string; month: string; rows: number }>
      expect(months.map((m) => `${m.table} ${m.month} ${m.rows}`)).toEqual([
        'conversations 2025-11 1',
        'conversations 2025-12 1',
        'robot_interactions 2025-11 1',
        'robot_interactions 2025-12 1',
      ])
      const again = await runCli(['archive', '--before', '2026-01', '--to', dir], env)
      expect(again.stdout).toMatch(/nothing to archive before 2026-01/)
    } finally {
      await t.reopen()
    }
    const manifest = JSON.parse(
      readFileSync(join(dir, 'conversations', '2025-12', 'manifest.json'), 'utf8'),
    ) as Manifest
    expect(manifest.rowsPerTenant).toEqual({ acme: 1 })
    // Only this month's turn is left, and the default partitions are empty.
    const left = await t.ownerQuery<Record<string, string>>(ROWS)
    expect(left).toEqual(original.filter((r) => !r.created_at?.startsWith('2025')))
    const inDefault = await t.ownerQuery<{ n: number }>(
      `SELECT (SELECT count(*) FROM robot_brain.conversations_default)
            + (SELECT count(*) FROM robot_brain.robot_interactions_default) AS n`,
    )
    expect(Number(inDefault[0]?.n)).toBe(0)

    const owner = t.store.transport.owner
    for (const table of ['conversations', 'robot_interactions'] as const)
      for (const month of ['2025-11', '2025-12']) await restoreMonth(owner, dir, table, month)
    // The same rows, now each in its month's partition.
    const back = await t.ownerQuery<Record<string, string>>(ROWS)
    const expected = original.map((r) =>
      r.partition?.endsWith('_default')
        ? {
            ...r,
            partition: r.partition.replace(
              'default',
              `p${r.created_at?.slice(0, 4)}_${r.created_at?.slice(5, 7)}`,
            ),
          }
        : r,
    )
    expect(back).toEqual(expected)
  }, 240_000)
})
