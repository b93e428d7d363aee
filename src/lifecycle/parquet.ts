// Archive rows as Parquet files. The writer is hyparquet-writer (with hyparquet to read back): pure
// JavaScript, so it installs from npm with nothing to download or compile at install or run time, on
// every platform the package runs on (servers, serverless functions, the embedded database's laptop),
// maintained, and small (one dependency). @duckdb/node-api would bring a native binary per platform and
// parquet-wasm a large WebAssembly build, for features an archive does not need. Files are plain
// Parquet (UTF8 strings, INT32, BOOLEAN, INT64 TIMESTAMP(MICROS, UTC)): DuckDB, pandas and Spark read them.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { parquetReadObjects } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
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

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

/** A Parquet file of the rows (as read from the database: created_at as microseconds in text). */
export function writeParquet(table: PartitionedTable, rows: ArchiveRow[]): Uint8Array {
  const cols = COLUMNS[table]
  const schema = [
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
  const columnData = cols.map((c) => ({
    name: c.name,
    nullable: c.nullable === true,
    data: rows.map((r) => (c.kind === 'micros' ? BigInt(r[c.name] as string) : r[c.name])),
  }))
  return new Uint8Array(
    parquetWriteBuffer({ columnData, schema, createdBy: 'robot-brain-db archive' } as Parameters<
      typeof parquetWriteBuffer
    >[0]),
  )
}

/** The rows of a Parquet file, in file order, in the shape the database gave them. */
export async function readParquet(table: PartitionedTable, bytes: Uint8Array): Promise<ArchiveRow[]> {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  const rows = (await parquetReadObjects({
    file: buffer,
    // Microseconds as they are: a Date would drop them.
    parsers: { timestampFromMicroseconds: (micros: bigint) => micros },
  })) as Array<Record<string, unknown>>
  const cols = COLUMNS[table]
  return rows.map((r) => {
    const row: ArchiveRow = {}
    for (const c of cols) {
      const value = r[c.name]
      row[c.name] =
        value === null || value === undefined
          ? null
          : c.kind === 'micros'
            ? String(value)
            : (value as string | number | boolean)
    }
    return row
  })
}

export async function readFileBytes(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path))
}
