// Archive: a whole month of conversations or robot_interactions to Parquet, verified, then dropped.
//
// Per month, in an order that any stop (kill -9 included) and rerun finishes with every row exactly
// once, in the database or in a verified archive:
//   1. detach the month's partition (plain DETACH under a 2 s lock_timeout, retried: CONCURRENTLY is
//      refused while the table has a default partition). From here the rows no longer change.
//   2. write its rows to DIR/<table>/<YYYY-MM>.partial/ (Parquet parts and manifest.json: rows per
//      tenant, each file's SHA-256, the content's SHA-256), then rename it to DIR/<table>/<YYYY-MM>/.
//      Each page read from the table becomes a row group written to disk at once: memory holds a
//      page, never a part file.
//   3. read the archive back and compare it with the detached table: files, checksums, rows per tenant
//      (each file hashed as a stream, its rows read a row group at a time).
//   4. drop the detached table. A rerun finds the month detached (goes on at 2) or gone with its
//      archive in place (verifies the archive, done).
// Dropping fires no trigger: the analytics rollups, the sessions' counts and the turns' ids stay as
// they were, so a restored month needs no correction (see restore.ts).
import { createHash } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type DbPool, withTransaction } from '../db/pool.js'
import { SQLSTATE } from '../db/sqlstate.js'
import type { PartitionedTable } from '../upkeep/partitions.js'
import { ensureMonths, partitionName } from '../upkeep/partitions.js'
import { PageSizer, textChars } from './paging.js'
import { type ArchiveRow, COLUMNS, canonical, fileSha256, PartWriter, readRowGroups } from './parquet.js'

export const MANIFEST_FORMAT = 'robot-brain-db archive 1'

export interface Manifest {
  format: string
  table: PartitionedTable
  /** YYYY-MM */
  month: string
  rows: number
  rowsPerTenant: Record<string, number>
  /** SHA-256 of the rows' canonical lines, in (tenant_id, id, created_at) order. */
  contentSha256: string
  files: Array<{ name: string; rows: number; bytes: number; sha256: string }>
  columns: string[]
  archivedAt: string
}

export type ArchiveStep = 'detached' | 'written' | 'verified' | 'dropped'

export interface ArchiveOptions {
  /** Rows per Parquet file (default 100,000). Memory does not depend on it (see pageSize). */
  rowsPerFile?: number
  /**
   * Most rows per read from the database (default 5000), each page one row group; fewer when rows
   * are long, so that a page holds about 4 MB of text.
   */
  pageSize?: number
  /** Called after each step; tests throw from it (or kill the process) to simulate a crash. */
  onStep?(step: ArchiveStep, month: ArchiveMonth): void | Promise<void>
  onRows?(rows: number): void
}

export interface ArchiveMonth {
  table: PartitionedTable
  month: string
  partition: string
}

export interface MonthResult extends ArchiveMonth {
  rows: number
  /** What happened: archived now, or found archived by an earlier run. */
  outcome: 'archived' | 'already archived'
  dir: string
}

/** The monthly partitions of `table` (attached or detached by an unfinished run) before `before` (YYYY-MM). */
export async function monthsBefore(
  owner: DbPool,
  table: PartitionedTable,
  before: string,
): Promise<ArchiveMonth[]> {
  // Attached partitions, and tables an interrupted run detached but did not drop yet.
  const { rows } = await owner.query<{ name: string }>({
    text: `SELECT c.relname AS name FROM pg_class c
            WHERE c.relnamespace = 'robot_brain'::regnamespace AND c.relkind = 'r'
              AND c.relname ~ ('^' || $1 || '_p[0-9]{4}_[0-9]{2}$')
              AND (NOT c.relispartition OR EXISTS (
                SELECT FROM pg_inherits i WHERE i.inhrelid = c.oid
                   AND i.inhparent = to_regclass(format('robot_brain.%I', $1::text))))`,
    values: [table],
  })
  return rows
    .map((r) => ({ partition: r.name, month: `${r.name.slice(-7, -3)}-${r.name.slice(-2)}` }))
    .filter((p) => p.month < before)
    .sort((a, b) => a.month.localeCompare(b.month))
    .map((p) => ({ table, month: p.month, partition: p.partition }))
}

/**
 * The months before `before` (YYYY-MM) whose rows sit in the table's default partition (written while
 * their month had no partition), with their row counts.
 */
export async function defaultMonthsBefore(
  owner: DbPool,
  table: PartitionedTable,
  before: string,
): Promise<Array<{ month: string; rows: number }>> {
  const { rows } = await owner.query<{ month: string; rows: number }>({
    text: `SELECT to_char(date_trunc('month', created_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month,
                  count(*)::integer AS rows
             FROM robot_brain."${table}_default"
            WHERE created_at < ($1 || '-01')::timestamp AT TIME ZONE 'UTC'
            GROUP BY 1 ORDER BY 1`,
    values: [before],
  })
  return rows
}

/**
 * Gives each month before `before` that has rows in the default partition a partition of its own,
 * moving its rows into it (ensure_month_partition), so the month is archived, verified and dropped
 * like any other. Returns the months moved.
 */
export async function partitionDefaultMonths(
  owner: DbPool,
  table: PartitionedTable,
  before: string,
): Promise<string[]> {
  const months = (await defaultMonthsBefore(owner, table, before)).map((m) => m.month)
  if (months.length) await ensureMonths(owner, table, months)
  return months
}

export function monthDir(dir: string, table: PartitionedTable, month: string): string {
  return join(dir, table, month)
}

async function readManifest(path: string): Promise<Manifest | null> {
  try {
    return JSON.parse(await readFile(join(path, 'manifest.json'), 'utf8')) as Manifest
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new Error(`${join(path, 'manifest.json')} is not readable JSON: ${(err as Error).message}`)
  }
}

/**
 * Reads an archived month back: every file's checksum, the rows' content checksum and rows per tenant
 * must match the manifest. Throws, naming what differs, when anything was altered or is missing.
 * `onRows` receives the rows a row group at a time (restore inserts them).
 */
export async function verifyArchive(
  path: string,
  onRows?: (rows: ArchiveRow[]) => Promise<void>,
): Promise<Manifest> {
  const manifest = await readManifest(path)
  if (!manifest) throw new Error(`${path} holds no manifest.json: not an archived month`)
  if (manifest.format !== MANIFEST_FORMAT)
    throw new Error(`${path}: unknown archive format "${manifest.format}"`)
  const table = manifest.table
  if (!(table in COLUMNS)) throw new Error(`${path}: unknown table "${table}"`)
  const content = new HashLines()
  const perTenant: Record<string, number> = {}
  let total = 0
  for (const file of manifest.files) {
    if (!/^part-\d{5}\.parquet$/.test(file.name)) throw new Error(`${path}: bad file name ${file.name}`)
    const filePath = join(path, file.name)
    const { sha256 } = await fileSha256(filePath).catch(() => {
      throw new Error(`${filePath} is missing`)
    })
    if (sha256 !== file.sha256)
      throw new Error(`${filePath} was altered: its SHA-256 differs from the manifest's`)
    let fileRows = 0
    for await (const rows of readRowGroups(table, filePath)) {
      for (const row of rows) {
        content.add(canonical(table, row))
        const tenant = String(row.tenant_id)
        perTenant[tenant] = (perTenant[tenant] ?? 0) + 1
      }
      fileRows += rows.length
      await onRows?.(rows)
    }
    if (fileRows !== file.rows) throw new Error(`${filePath} holds ${fileRows} rows, not ${file.rows}`)
    total += fileRows
  }
  if (total !== manifest.rows)
    throw new Error(`${path} holds ${total} rows, the manifest says ${manifest.rows}`)
  if (content.digest() !== manifest.contentSha256)
    throw new Error(`${path}: the rows' checksum differs from the manifest's (altered archive)`)
  if (JSON.stringify(sortKeys(perTenant)) !== JSON.stringify(sortKeys(manifest.rowsPerTenant)))
    throw new Error(`${path}: rows per tenant differ from the manifest's`)
  return manifest
}

/** SHA-256 of canonical row lines, fed row by row (never the month in memory). */
class HashLines {
  private readonly hash = createHash('sha256')
  add(line: string): void {
    this.hash.update(line)
  }
  digest(): string {
    return this.hash.digest('hex')
  }
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)))
}

/** Reads the detached table in key order, page by page (pages sized by their text, see paging.ts). */
async function* tableRows(owner: DbPool, m: ArchiveMonth, pageSize: number): AsyncGenerator<ArchiveRow[]> {
  const cols = COLUMNS[m.table].map((c) => `${c.sql} AS ${c.name}`).join(', ')
  const from = `robot_brain."${m.partition}"`
  const sizer = new PageSizer(pageSize)
  let after: { tenant: string; id: string } | null = null
  for (;;) {
    const limit = sizer.rows
    const { rows } = (await owner.query<ArchiveRow>({
      text: `SELECT ${cols} FROM ${from} r
              WHERE ($1::text IS NULL OR (r.tenant_id, r.id) > ($1::text, $2::uuid))
              ORDER BY r.tenant_id, r.id, r.created_at LIMIT $3`,
      values: [after?.tenant ?? null, after?.id ?? null, limit],
    })) as { rows: ArchiveRow[] }
    if (rows.length === 0) return
    sizer.observe(rows.length, textChars(rows))
    yield rows
    const last = rows[rows.length - 1] as ArchiveRow
    after = { tenant: String(last.tenant_id), id: String(last.id) }
    if (rows.length < limit) return
  }
}

async function isAttached(owner: DbPool, partition: string): Promise<boolean | null> {
  const { rows } = await owner.query<{ exists: boolean; attached: boolean }>({
    text: `SELECT c.oid IS NOT NULL AS exists, coalesce(c.relispartition, false) AS attached
             FROM (SELECT 1) x LEFT JOIN pg_class c
               ON c.relnamespace = 'robot_brain'::regnamespace AND c.relname = $1`,
    values: [partition],
  })
  const r = rows[0]
  return r?.exists ? r.attached : null
}

/** Plain DETACH under a short lock timeout, retried: writes to other months wait at most 2 s. */
async function detach(owner: DbPool, m: ArchiveMonth): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await withTransaction(owner, async (c) => {
        await c.query("SET LOCAL lock_timeout = '2s'")
        await c.query(`ALTER TABLE robot_brain.${m.table} DETACH PARTITION robot_brain."${m.partition}"`)
      })
      return
    } catch (err) {
      if ((err as { code?: string }).code !== SQLSTATE.LOCK_NOT_AVAILABLE || attempt >= 20) throw err
      await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000))
    }
  }
}

/** Archives one month (see the top of this file); safe to run again after any stop. */
export async function archiveMonth(
  owner: DbPool,
  m: ArchiveMonth,
  dir: string,
  options: ArchiveOptions = {},
): Promise<MonthResult> {
  if (!/^[a-z_]+_p\d{4}_\d{2}$/.test(m.partition) || m.partition !== partitionName(m.table, `${m.month}-01`))
    throw new Error(`not a monthly partition: ${m.partition}`)
  const final = monthDir(dir, m.table, m.month)
  const state = await isAttached(owner, m.partition)
  if (state === null) {
    // Gone: an earlier run dropped it after verifying its archive (or there was never such a month).
    const manifest = await verifyArchive(final)
    return { ...m, rows: manifest.rows, outcome: 'already archived', dir: final }
  }
  if (state) {
    await detach(owner, m)
  }
  await options.onStep?.('detached', m)

  // 2. Write to a fresh .partial directory, then rename it into place.
  const partial = `${final}.partial`
  await rm(partial, { recursive: true, force: true })
  await mkdir(partial, { recursive: true })
  const rowsPerFile = options.rowsPerFile ?? 100_000
  const content = new HashLines()
  const perTenant: Record<string, number> = {}
  const files: Manifest['files'] = []
  let part: { name: string; writer: PartWriter } | null = null
  let total = 0
  const closePart = async () => {
    if (!part) return
    const { bytes, sha256 } = await part.writer.close()
    files.push({ name: part.name, rows: part.writer.rows, bytes, sha256 })
    part = null
  }
  try {
    for await (const page of tableRows(owner, m, options.pageSize ?? 5000)) {
      // A page fills the current part up to rowsPerFile rows; the rest starts the next part.
      for (let i = 0; i < page.length; ) {
        if (!part) {
          const name = `part-${String(files.length).padStart(5, '0')}.parquet`
          part = { name, writer: await PartWriter.create(m.table, join(partial, name)) }
        }
        const group = page.slice(i, i + rowsPerFile - part.writer.rows)
        for (const row of group) {
          content.add(canonical(m.table, row))
          const tenant = String(row.tenant_id)
          perTenant[tenant] = (perTenant[tenant] ?? 0) + 1
        }
        await part.writer.append(group)
        i += group.length
        if (part.writer.rows >= rowsPerFile) await closePart()
      }
      total += page.length
      options.onRows?.(total)
    }
    await closePart()
  } catch (err) {
    // The .partial directory is removed by the next run; only the open file is closed here.
    await (part as { writer: PartWriter } | null)?.writer.abort()
    throw err
  }
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    table: m.table,
    month: m.month,
    rows: total,
    rowsPerTenant: sortKeys(perTenant),
    contentSha256: content.digest(),
    files,
    columns: COLUMNS[m.table].map((c) => c.name),
    archivedAt: new Date().toISOString(),
  }
  await writeFile(join(partial, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, { flush: true })
  await rm(final, { recursive: true, force: true })
  await rename(partial, final)
  await options.onStep?.('written', m)

  // 3. Read it back; it must say exactly what the table holds.
  const back = await verifyArchive(final)
  if (back.contentSha256 !== manifest.contentSha256 || back.rows !== total)
    throw new Error(`${final} does not read back as written`)
  await options.onStep?.('verified', m)

  // 4. Only now the rows leave the database.
  await owner.query(`DROP TABLE robot_brain."${m.partition}"`)
  await writeIndex(dir)
  await options.onStep?.('dropped', m)
  return { ...m, rows: total, outcome: 'archived', dir: final }
}

/** DIR/manifest.json: every archived month of every table, from their own manifests. */
export async function writeIndex(dir: string): Promise<void> {
  const months: Array<Pick<Manifest, 'table' | 'month' | 'rows' | 'rowsPerTenant' | 'contentSha256'>> = []
  for (const table of Object.keys(COLUMNS) as PartitionedTable[]) {
    const entries = await readdir(join(dir, table)).catch(() => [] as string[])
    for (const month of entries.filter((e) => /^\d{4}-\d{2}$/.test(e)).sort()) {
      const m = await readManifest(join(dir, table, month))
      if (m)
        months.push({
          table,
          month,
          rows: m.rows,
          rowsPerTenant: m.rowsPerTenant,
          contentSha256: m.contentSha256,
        })
    }
  }
  const tmp = join(dir, 'manifest.json.partial')
  await writeFile(tmp, `${JSON.stringify({ format: MANIFEST_FORMAT, months }, null, 2)}\n`, { flush: true })
  await rename(tmp, join(dir, 'manifest.json'))
}
