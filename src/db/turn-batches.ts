// The loop every online step that rewrites old turns shares: the turns in primary-key order
// (tenant_id, id, created_at), one committed batch per statement, the last key and a running count
// saved after each batch so an interrupted step resumes where it stopped.
import type { StepContext } from './online-steps.js'

/**
 * A statement for inTurnBatches: the next batch of turns after the last key (`batch`), then `ctes`
 * (which change rows and may read `batch`), and the one row inTurnBatches wants, where `n` counts the
 * rows of the CTE named `changed`.
 */
export function turnBatchSql(ctes: string, changed: string): string {
  return `
WITH batch AS MATERIALIZED (
  SELECT tenant_id, id, created_at FROM robot_brain.conversations
  WHERE (tenant_id, id, created_at) > ($1::text, $2::uuid, $3::timestamptz)
  ORDER BY tenant_id, id, created_at
  LIMIT $4
),
${ctes.trim()}
SELECT (SELECT count(*) FROM ${changed})::integer AS n,
       last.tenant_id, last.id::text AS id, last.created_at::text AS created_at
FROM (SELECT * FROM batch ORDER BY tenant_id DESC, id DESC, created_at DESC LIMIT 1) last`
}

/**
 * Runs `sql` until it returns no row. `sql` takes the last key ($1 tenant_id, $2 id, $3 created_at)
 * and the batch size ($4), and returns one row: `n`, the turns it changed, with the batch's last key.
 * `counted` names the running count in the saved progress. False when the step must stop (ctx.batch()).
 */
export async function inTurnBatches(
  ctx: StepContext,
  step: string,
  sql: string,
  counted: string,
  progressMessage: (n: number) => string,
): Promise<boolean> {
  let key = ctx.progress as { tenantId?: string; id?: string; createdAt?: string } & Record<string, unknown>
  let total = Number(key[counted] ?? 0)
  for (;;) {
    if (!ctx.batch()) return false
    const { rows } = await ctx.pool.query<{ n: number; tenant_id: string; id: string; created_at: string }>({
      text: sql,
      values: [
        key.tenantId ?? '',
        key.id ?? '00000000-0000-0000-0000-000000000000',
        key.createdAt ?? '-infinity',
        ctx.options.batchSize,
      ],
    })
    const last = rows[0]
    if (!last) return true
    total += last.n
    key = { tenantId: last.tenant_id, id: last.id, createdAt: last.created_at, [counted]: total }
    await ctx.save(key)
    ctx.options.onProgress?.(step, progressMessage(total))
  }
}
