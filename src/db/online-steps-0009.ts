// Online steps of migration 0009: the ids of turns stored before it go into turn_ids, and sessions
// stored before it get the span of their turns. Both in committed batches that record their progress.
import type { StepContext } from './online-steps.js'
import { inTurnBatches, turnBatchSql } from './turn-batches.js'

/**
 * Keys the turns in primary-key order, a batch per statement. New turns are keyed as they are
 * inserted (the write path claims its ids; the claim_turn_ids trigger keys every other path's, and
 * until this step ends also an older row of the same id). Last, turn_ids_complete() is replaced to say
 * true, which takes the search of the partitions for unkeyed ids out of the write path's plan.
 */
const BACKFILL_TURN_IDS = turnBatchSql(
  `
keyed AS (
  INSERT INTO robot_brain.turn_ids (tenant_id, id, created_at)
  SELECT tenant_id, id, created_at FROM batch
  ON CONFLICT DO NOTHING
  RETURNING 1
)
`,
  'keyed',
)

export async function backfillTurnIds(ctx: StepContext): Promise<boolean> {
  const done = await inTurnBatches(
    ctx,
    'backfill_turn_ids',
    BACKFILL_TURN_IDS,
    'keyed',
    (n) => `${n} turn ids keyed`,
  )
  if (!done) return false
  await ctx.pool.query(
    `CREATE OR REPLACE FUNCTION robot_brain.turn_ids_complete() RETURNS boolean
     LANGUAGE sql STABLE AS $$ SELECT true $$`,
  )
  return true
}

/** Sets the span of sessions in (tenant_id, id) order (robot_brain.backfill_session_spans). */
export async function backfillSessionSpans(ctx: StepContext): Promise<boolean> {
  let key = ctx.progress as { tenantId?: string; id?: string; filled?: number }
  let filled = key.filled ?? 0
  // Sessions are few beside turns, and each reads two index ends per partition: smaller batches.
  const batch = Math.max(1, Math.floor(ctx.options.batchSize / 4))
  for (;;) {
    if (!ctx.batch()) return false
    const { rows } = await ctx.pool.query<{ tenant_id: string; id: string; filled: number }>({
      text: 'SELECT * FROM robot_brain.backfill_session_spans($1, $2, $3)',
      values: [key.tenantId ?? '', key.id ?? '', batch],
    })
    const last = rows[0]
    if (!last) return true
    filled += last.filled
    key = { tenantId: last.tenant_id, id: last.id, filled }
    await ctx.save(key)
    ctx.options.onProgress?.('backfill_session_spans', `${filled} session spans set`)
  }
}
