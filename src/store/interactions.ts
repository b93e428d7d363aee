// Robot interaction events: one multi-row statement per batch, idempotent by client-made id.
import { interactionRollupCte } from '../analytics/rollups.js'
import type { Queryable } from '../db/pool.js'

export interface NewInteraction {
  id: string
  robotId: string
  interactionType: string
  durationMs: number
  success: boolean
  metadata: Record<string, unknown>
  createdAt: Date
}

// The replay check reads every month through robot_brain.stored_interaction_ids (migration 0023), all
// ids at once, not by a probe per event in this statement: this statement's plan is kept, and a plan
// made while a partition looked small scanned it once per event for as long as it was kept.
const insertStatement = (rollups: boolean) => `
WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant($1) AS tenant_id),
-- A replay with another createdAt would not conflict on the key (it holds the partition key).
stored AS MATERIALIZED (
  SELECT s.id FROM ctx, robot_brain.stored_interaction_ids(ctx.tenant_id, $2::uuid[]) s(id)
),
ins AS (
  INSERT INTO robot_brain.robot_interactions
    (tenant_id, id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
  SELECT ctx.tenant_id, i.*
  FROM ctx, unnest($2::uuid[], $3::text[], $4::text[], $5::integer[], $6::boolean[], $7::jsonb[], $8::timestamptz[])
    AS i(id, robot_id, interaction_type, duration_ms, success, metadata, created_at)
  WHERE NOT EXISTS (SELECT FROM stored WHERE stored.id = i.id)
  ON CONFLICT (tenant_id, id, created_at) DO NOTHING
  RETURNING tenant_id, robot_id, interaction_type, duration_ms, success, created_at
)${
  rollups
    ? `,
-- Only the rows really inserted reach the rollups: a replayed id counts once.
${interactionRollupCte('ins')}`
    : ''
}
SELECT count(*)::integer AS inserted FROM ins`

const INSERT_INTERACTIONS = insertStatement(true)
/** The same insert without the rollup upsert: only the bench uses it, to measure what rollups cost at ingest. */
const INSERT_WITHOUT_ROLLUPS = insertStatement(false)

/**
 * The first event of each id. An id is one event: the replay check and the key (tenant_id, id,
 * created_at) skip a repeat of a stored id, and a repeat in the same batch with the same createdAt,
 * but a repeat in the same batch at another time would be a second row, counted twice by the rollups.
 * Ids arrive as validation leaves them (lower case), so equal ids are equal strings.
 */
function firstOfEachId(events: NewInteraction[]): NewInteraction[] {
  const seen = new Set<string>()
  return events.filter((e) => !seen.has(e.id) && seen.add(e.id))
}

export async function insertInteractions(
  db: Queryable,
  tenant: string,
  batch: NewInteraction[],
  /** False only in the bench's baseline: the rollups would no longer match the events. */
  rollups = true,
): Promise<number> {
  const events = firstOfEachId(batch)
  const { rows } = await db.query<{ inserted: number }>({
    name: rollups ? 'rb_insert_interactions' : 'rb_insert_interactions_without_rollups',
    text: rollups ? INSERT_INTERACTIONS : INSERT_WITHOUT_ROLLUPS,
    values: [
      tenant,
      events.map((e) => e.id),
      events.map((e) => e.robotId),
      events.map((e) => e.interactionType),
      events.map((e) => e.durationMs),
      events.map((e) => e.success),
      events.map((e) => JSON.stringify(e.metadata)),
      events.map((e) => e.createdAt.toISOString()),
    ],
  })
  return rows[0]?.inserted ?? 0
}
