// Archives stay readable across versions: the fixture is a month archived by the first version, which
// built each part file whole in memory (row groups of 1,000 then 100,000 rows); today's archive writes
// a row group per page and reads files back a row group at a time. The old archive must verify,
// restore exactly (every field as exported before it was archived), and still be refused once altered.
// Today's files: several row groups and parts, read back in order, content checksum unchanged.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { archiveMonth, type Manifest, monthsBefore, verifyArchive } from '../../src/lifecycle/archive.js'
import { exportData } from '../../src/lifecycle/export.js'
import { importLines } from '../../src/lifecycle/import.js'
import { restoreMonth } from '../../src/lifecycle/restore.js'
import { openTestStore, type TestStore } from '../support/store.js'

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'archive-v1')

async function exportText(t: TestStore): Promise<string> {
  let text = ''
  await exportData(t.store.transport.owner, {
    write: async (chunk) => {
      text += chunk
    },
  })
  return text
}

async function* linesOf(text: string): AsyncGenerator<string> {
  for (const line of text.split('\n')) yield line
}

describe('archive format', () => {
  let t: TestStore
  let dir: string
  const expected = readFileSync(join(FIXTURE, 'expected.jsonl'), 'utf8')

  beforeAll(async () => {
    t = await openTestStore('archive_format')
    dir = mkdtempSync(join(tmpdir(), 'rbtest-archive-format-'))
    cpSync(FIXTURE, dir, { recursive: true })
    // The sessions stay in the database when their turns are archived: put them back first.
    const sessions = expected
      .split('\n')
      .filter((l) => l.includes('"type":"session"'))
      .join('\n')
    const summary = await importLines(t.store.transport.owner, linesOf(sessions))
    expect(summary.errorCount).toBe(0)
  }, 120_000)

  afterAll(async () => {
    await t?.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  it('restores a month archived by the first version exactly', async () => {
    const owner = t.store.transport.owner
    const turns = await restoreMonth(owner, dir, 'conversations', '2026-03')
    const events = await restoreMonth(owner, dir, 'robot_interactions', '2026-03')
    expect([turns.restored, turns.skipped, events.restored]).toEqual([60, 0, 30])
    expect(await exportText(t)).toBe(expected)
  })

  it('refuses the old archive once altered', async () => {
    const part = join(dir, 'robot_interactions', '2026-03', 'part-00000.parquet')
    const bytes = readFileSync(part)
    const flipped = Buffer.from(bytes)
    flipped[100] = (flipped[100] ?? 0) ^ 0xff
    writeFileSync(part, flipped)
    await expect(verifyArchive(join(dir, 'robot_interactions', '2026-03'))).rejects.toThrow(/altered/)
    writeFileSync(part, bytes)
  })

  it('writes row groups of a page and parts of rowsPerFile rows, read back in order', async () => {
    const owner = t.store.transport.owner
    const [month] = await monthsBefore(owner, 'conversations', '2026-04')
    expect(month?.month).toBe('2026-03')
    if (!month) return
    const out = join(dir, 'again')
    const r = await archiveMonth(owner, month, out, { pageSize: 7, rowsPerFile: 25 })
    expect(r.rows).toBe(60)
    const path = join(out, 'conversations', '2026-03')
    const manifest = JSON.parse(readFileSync(join(path, 'manifest.json'), 'utf8')) as Manifest
    const old = JSON.parse(
      readFileSync(join(FIXTURE, 'conversations', '2026-03', 'manifest.json'), 'utf8'),
    ) as Manifest
    // The same rows: the same content checksum and rows per tenant as the first version's archive.
    expect(manifest.contentSha256).toBe(old.contentSha256)
    expect(manifest.rowsPerTenant).toEqual(old.rowsPerTenant)
    expect(manifest.files.map((f) => f.rows)).toEqual([25, 25, 10])
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(join(path, 'part-00000.parquet')))
    expect(meta.row_groups.length).toBeGreaterThan(1)
    expect(meta.row_groups.every((g) => Number(g.num_rows) <= 7)).toBe(true)
    const groups: number[] = []
    await verifyArchive(path, async (rows) => {
      groups.push(rows.length)
    })
    expect(groups.every((n) => n <= 7)).toBe(true)
    expect(groups.reduce((a, b) => a + b, 0)).toBe(60)
    // And back again, exactly.
    await restoreMonth(owner, out, 'conversations', '2026-03')
    expect(await exportText(t)).toBe(expected)
  })
})
