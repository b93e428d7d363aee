// Robot interaction events: one multi-row statement per batch (or per group of concurrent batches,
// by group commit), idempotent by client-made id.
import { interactionRollupCte } from '../analytics/rollups.js'
import type { GroupCommitOptions } from '../config.js'
import type { Queryable } from '../db/pool.js'
import { GroupCommit } from './group-commit.js'

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
  RETURNING tenant_id, id, robot_id, interaction_type, duration_ms, success, created_at
)${
  rollups
    ? `,
-- Only the rows really inserted reach the rollups: a replayed id counts once.
${interactionRollupCte('ins')}`
    : ''
}
-- Rows inserted per caller ($9: the caller of each event, when group commit merged several).
SELECT c.caller, count(*)::integer AS inserted
FROM ins JOIN unnest($2::uuid[], $9::integer[]) AS c(id, caller) USING (id)
GROUP BY c.caller`

const INSERT_INTERACTIONS = insertStatement(true)
/** The same insert without the rollup upsert: only the bench uses it, to measure what rollups cost at ingest. */
const INSERT_WITHOUT_ROLLUPS = insertStatement(false)

/**
 * Stores the batches of several callers (group commit) in one statement and answers how many events
 * of each were new. An id is one event: the replay check and the key (tenant_id, id, created_at) skip
 * a repeat of a stored id, and a repeat in the same statement with the same createdAt, but a repeat in
 * the same statement at another time would be a second row, counted twice by the rollups. So only the
 * first occurrence of each id is sent, and it belongs to the first caller that sent it, as if the calls
 * had run one after another. Ids arrive as validation leaves them (lower case), so equal ids are equal
 * strings.
 */
export async function insertInteractionBatches(
  db: Queryable,
  tenant: string,
  batches: NewInteraction[][],
  /** False only in the bench's baseline: the rollups would no longer match the events. */
  rollups = true,
): Promise<number[]> {
  const seen = new Set<string>()
  const events: NewInteraction[] = []
  const callers: number[] = []
  for (const [caller, batch] of batches.entries()) {
    for (const e of batch) {
      if (seen.has(e.id)) continue
      seen.add(e.id)
      events.push(e)
      callers.push(caller)
    }
  }
  const inserted = batches.map(() => 0)
  if (events.length === 0) return inserted
  const { rows } = await db.query<{ caller: number; inserted: number }>({
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
      callers,
    ],
  })
  for (const r of rows) inserted[r.caller] = r.inserted
  return inserted
}

/** Stores one batch; answers how many of its events were new. */
export async function insertInteractions(
  db: Queryable,
  tenant: string,
  batch: NewInteraction[],
  rollups = true,
): Promise<number> {
  return (await insertInteractionBatches(db, tenant, [batch], rollups))[0] ?? 0
}

/**
 * Most events group commit merges into one statement. Eight callers of the largest HTTP batch (1,000)
 * fit; a single larger call goes alone.
 */
const EVENTS_PER_STATEMENT_MAX = 10_000

/**
 * Group commit for events: at most two statements per tenant at a time, the calls that queue meanwhile
 * merged into the next. Every statement of a tenant updates the same rollup rows (its hours and keys)
 * and holds their locks until it commits, so statements of one tenant running side by side wait on
 * each other, and the versions each leaves cannot be pruned while the others run. A merged statement
 * updates each rollup row once for all of its callers. Two, not one: while one statement updates the
 * rollups and commits, the other inserts its events; one at a time would leave a core idle.
 */
export function eventGroupCommit(
  options: GroupCommitOptions,
  /** Most statements in flight at once, over all tenants (the pool size). */
  slots: number,
  write: (tenant: string, batches: NewInteraction[][]) => Promise<number[]>,
): GroupCommit<NewInteraction[], number> {
  return new GroupCommit({ ...options, maxBatch: EVENTS_PER_STATEMENT_MAX }, slots, write, {
    perTenant: 2,
    size: (batch) => batch.length,
  })
}
