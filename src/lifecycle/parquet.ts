// Archive rows as Parquet files. The writer is hyparquet-writer (with hyparquet to read back): pure
// JavaScript, so it installs from npm with nothing to download or compile at install or run time, on
// every platform the package runs on (servers, serverless functions, the embedded database's laptop),
// maintained, and small (one dependency). @duckdb/node-api would bring a native binary per platform and
// parquet-wasm a large WebAssembly build, for features an archive does not need. Files are plain
// Parquet (UTF8 strings, INT32, BOOLEAN, INT64 TIMESTAMP(MICROS, UTC)): DuckDB, pandas and Spark read them.
//
// Memory stays bounded by one row group, never a whole file: PartWriter appends a row group at a time
// and sends its bytes to disk (and into the file's SHA-256) as soon as it is encoded; readRowGroups
// reads a file back a row group at a time through ranged reads. Files written whole by earlier
// versions (row groups of 1,000 then 100,000 rows) read the same way.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { ByteWriter, ParquetWriter } from 'hyparquet-writer'
import type { PartitionedTable } from '../upkeep/partitions.js'

/** A row as archived: text columns as stored (metadata as its jsonb text), created_at in microseconds. */
export type ArchiveRow = Record<string, string | number | boolean | bigint | null>

interface Column {
  name: string
  /** SQL giving the value from a row `r` of the table. */
  sql: string
  kind: 'text' | 'int' | 'bool' | 'micros'
  nullable?: boolean
}

export const COLUMNS: Record<PartitionedTable, Column[]> = {
  conversations: [
    { name: 'tenant_id', sql: 'r.tenant_id', kind: 'text' },
    { name: 'id', sql: 'r.id::text', kind: 'text' },
    { name: 'session_id', sql: 'r.session_id', kind: 'text' },
    { name: 'robot_personality', sql: 'r.robot_personality', kind: 'text' },
    { name: 'user_message', sql: 'r.user_message', kind: 'text' },
    { name: 'robot_response', sql: 'r.robot_response', kind: 'text', nullable: true },
    { name: 'metadata', sql: 'r.metadata::text', kind: 'text' },
    { name: 'created_at', sql: '(extract(epoch FROM r.created_at) * 1000000)::bigint::text', kind: 'micros' },
  ],
  robot_interactions: [
    { name: 'tenant_id', sql: 'r.tenant_id', kind: 'text' },
    { name: 'id', sql: 'r.id::text', kind: 'text' },
    { name: 'robot_id', sql: 'r.robot_id', kind: 'text' },
    { name: 'interaction_type', sql: 'r.interaction_type', kind: 'text' },
    { name: 'duration_ms', sql: 'r.duration_ms', kind: 'int' },
    { name: 'success', sql: 'r.success', kind: 'bool' },
    { name: 'metadata', sql: 'r.metadata::text', kind: 'text' },
    { name: 'created_at', sql: '(extract(epoch FROM r.created_at) * 1000000)::bigint::text', kind: 'micros' },
  ],
}

/** One canonical line per row: what the content checksum covers, the same from the database and a file. */
export function canonical(table: PartitionedTable, row: ArchiveRow): string {
  return `${JSON.stringify(COLUMNS[table].map((c) => (row[c.name] === null ? null : String(row[c.name]))))}\n`
}

function schemaOf(table: PartitionedTable) {
  const cols = COLUMNS[table]
  return [
    { name: 'root', num_children: cols.length },
    ...cols.map((c) => ({
      name: c.name,
      repetition_type: c.nullable ? ('OPTIONAL' as const) : ('REQUIRED' as const),
      ...(c.kind === 'text'
        ? { type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const }
        : c.kind === 'int'
          ? { type: 'INT32' as const }
          : c.kind === 'bool'
            ? { type: 'BOOLEAN' as const }
            : {
                type: 'INT64' as const,
                converted_type: 'TIMESTAMP_MICROS' as const,
                logical_type: { type: 'TIMESTAMP' as const, isAdjustedToUTC: true, unit: 'MICROS' as const },
              }),
    })),
  ]
}

/** The rows (as read from the database: created_at as microseconds in text) as Parquet column data. */
function columnDataOf(table: PartitionedTable, rows: ArchiveRow[]) {
  return COLUMNS[table].map((c) => ({
    name: c.name,
    nullable: c.nullable === true,
    data: rows.map((r) => (c.kind === 'micros' ? BigInt(r[c.name] as string) : r[c.name])),
  }))
}

const CREATED_BY = 'robot-brain-db archive'

/**
 * One Parquet file written row group by row group: each group's bytes go to the file (and into its
 * SHA-256) once encoded, so memory holds one row group, whatever the file's size.
 */
export class PartWriter {
  private readonly hash = createHash('sha256')
  private readonly parquet: ParquetWriter
  private bytes = 0
  rows = 0

  private constructor(
    private readonly table: PartitionedTable,
    private readonly file: FileHandle,
  ) {
    const out = new ByteWriter()
    // hyparquet-writer calls flush() after each row group and finish() at the end of the file; the
    // bytes encoded so far leave the buffer, which starts again at 0 (offsets in the file go on).
    const drain = async () => {
      if (out.index === 0) return
      const chunk = new Uint8Array(out.buffer, 0, out.index).slice()
      out.index = 0
      this.hash.update(chunk)
      this.bytes += chunk.byteLength
      await this.file.write(chunk)
    }
    Object.assign(out, { flush: drain, finish: drain })
    this.parquet = new ParquetWriter({ writer: out, schema: schemaOf(table), createdBy: CREATED_BY } as never)
  }

  static async create(table: PartitionedTable, path: string): Promise<PartWriter> {
    return new PartWriter(table, await open(path, 'w'))
  }

  /** Appends the rows as one row group. */
  async append(rows: ArchiveRow[]): Promise<void> {
    if (rows.length === 0) return
    await this.parquet.write({
      columnData: columnDataOf(this.table, rows),
      rowGroupSize: rows.length,
    } as never)
    this.rows += rows.length
  }

  /** Writes the footer, syncs the file to disk; the file's size and SHA-256. */
  async close(): Promise<{ bytes: number; sha256: string }> {
    try {
      await this.parquet.finish()
      await this.file.sync()
    } finally {
      await this.file.close()
    }
    return { bytes: this.bytes, sha256: this.hash.digest('hex') }
  }

  /** Closes the file without finishing it (an error happened; the caller removes it). */
  async abort(): Promise<void> {
    await this.file.close().catch(() => {})
  }
}

/** SHA-256 of a file, read as a stream. */
export async function fileSha256(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).byteLength
  }
  return { bytes, sha256: hash.digest('hex') }
}

/** The rows of a Parquet file, one row group at a time, in file order (ranged reads of the file). */
export async function* readRowGroups(table: PartitionedTable, path: string): AsyncGenerator<ArchiveRow[]> {
  const file = await asyncBufferFromFile(path)
  const metadata = await parquetMetadataAsync(file)
  let rowStart = 0
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows)
    const rows = (await parquetReadObjects({
      file,
      metadata,
      rowStart,
      rowEnd,
      // Microseconds as they are: a Date would drop them.
      parsers: { timestampFromMicroseconds: (micros: bigint) => micros },
    })) as Array<Record<string, unknown>>
    yield rows.map((r) => fromParquet(table, r))
    rowStart = rowEnd
  }
}

function fromParquet(table: PartitionedTable, r: Record<string, unknown>): ArchiveRow {
  const row: ArchiveRow = {}
  for (const c of COLUMNS[table]) {
    const value = r[c.name]
    row[c.name] =
      value === null || value === undefined
        ? null
        : c.kind === 'micros'
          ? String(value)
          : (value as string | number | boolean)
  }
  return row
}
