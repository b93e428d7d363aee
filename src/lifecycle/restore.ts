// Restore: an archived month back into its partition, exactly (ids, text, metadata, timestamps to the
// microsecond). The archive is verified first (every file's checksum, the rows' checksum, rows per
// tenant): an altered archive is refused before a row is written. Rows go in with ON CONFLICT DO
// NOTHING, so a restore stopped at any point and run again ends with every row once. Archiving changed
// neither the sessions' counts nor the analytics rollups nor the turns' ids (a drop fires no trigger),
// so the rows come back as they were, and nothing else is touched. A turn whose session was deleted
// since (a user erased) stays out: restoring must not bring erased data back.
import type { DbPool } from '../db/pool.js'
import { ensureMonths, type PartitionedTable } from '../upkeep/partitions.js'
import { monthDir, verifyArchive } from './archive.js'
import type { ArchiveRow } from './parquet.js'

export interface RestoreResult {
  table: PartitionedTable
  month: string
  /** Rows in the archive. */
  rows: number
  /** Rows written now. */
  restored: number
  /** Rows already in the database (an earlier, interrupted restore). */
  present: number
  /** Turns left out because their session no longer exists. */
  skipped: number
}

const MICROS = (param: string) => `timestamptz 'epoch' + ${param} * interval '1 microsecond'`

const RESTORE_TURNS = `
WITH i AS (
  SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::bigint[])
    AS i(tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, us)
), ins AS (
  INSERT INTO robot_brain.conversations
    (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
  SELECT i.tenant_id, i.id, i.session_id, i.robot_personality, i.user_message, i.robot_response, i.metadata,
         ${MICROS('i.us')}
  FROM i
  WHERE EXISTS (SELECT FROM robot_brain.sessions s WHERE s.tenant_id = i.tenant_id AND s.id = i.session_id)
  ON CONFLICT (tenant_id, id, created_at) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::integer AS restored,
       (SELECT count(*) FROM i WHERE NOT EXISTS (
          SELECT FROM robot_brain.sessions s WHERE s.tenant_id = i.tenant_id AND s.id = i.session_id))::integer AS skipped`

const RESTORE_INTERACTIONS = `
WITH ins AS (
  INSERT INTO robot_brain.robot_interactions
    (tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
  SELECT i.tenant_id, i.id, i.robot_id, i.interaction_type, i.duration_ms, i.success, i.metadata, ${MICROS('i.us')}
  FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::integer[], $6::boolean[], $7::jsonb[], $8::bigint[])
    AS i(tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, us)
  ON CONFLICT (tenant_id, id, created_at) DO NOTHING
  RETURNING 1
)
SELECT count(*)::integer AS restored, 0 AS skipped FROM ins`

function statement(table: PartitionedTable, rows: ArchiveRow[]): { text: string; values: unknown[] } {
  const col = (name: string) => rows.map((r) => r[name])
  const us = rows.map((r) => String(r.created_at))
  return table === 'conversations'
    ? {
        text: RESTORE_TURNS,
        values: [
          col('tenant_id'),
          col('id'),
          col('session_id'),
          col('robot_personality'),
          col('user_message'),
          col('robot_response'),
          col('metadata'),
          us,
        ],
      }
    : {
        text: RESTORE_INTERACTIONS,
        values: [
          col('tenant_id'),
          col('id'),
          col('robot_id'),
          col('interaction_type'),
          col('duration_ms'),
          col('success'),
          col('metadata'),
          us,
        ],
      }
}

export async function restoreMonth(
  owner: DbPool,
  dir: string,
  table: PartitionedTable,
  month: string,
  options: { batchSize?: number; dryRun?: boolean; onRows?(rows: number): void } = {},
): Promise<RestoreResult> {
  const path = monthDir(dir, table, month)
  // Verify the whole archive before writing anything: a tampered file is refused, not half restored.
  const manifest = await verifyArchive(path)
  if (manifest.table !== table || manifest.month !== month)
    throw new Error(`${path} holds ${manifest.table} ${manifest.month}, not ${table} ${month}`)
  const result: RestoreResult = { table, month, rows: manifest.rows, restored: 0, present: 0, skipped: 0 }
  if (options.dryRun) return result
  // The month's partition again (rows of the month written meanwhile move out of the default into it).
  await ensureMonths(owner, table, [month])
  const batchSize = options.batchSize ?? 1000
  let done = 0
  await verifyArchive(path, async (rows) => {
    for (let i = 0; i < rows.length; i += batchSize) {
      const batch = rows.slice(i, i + batchSize)
      const { text, values } = statement(table, batch)
      const { rows: r } = await owner.query<{ restored: number; skipped: number }>({ text, values })
      const restored = r[0]?.restored ?? 0
      const skipped = r[0]?.skipped ?? 0
      result.restored += restored
      result.skipped += skipped
      result.present += batch.length - restored - skipped
      done += batch.length
      options.onRows?.(done)
    }
  })
  return result
}
