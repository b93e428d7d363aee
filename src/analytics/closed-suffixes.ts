// Closed-day suffixes (interaction_closed_suffixes, migration 0022): per robot (or type), the sketch of
// a closed UTC day's whole hours from a given hour to its end. The partial day at the start of a range
// (the first day of "the last 30 days") is that suffix plus the raw events of its edge hour: one row a
// key, instead of the day's sketch less every hourly row before the range. A cache under the tenant's
// analytics epoch, like the closed-day answers (closed-days.ts); this file fills it, on the primary.
import type { DbPool } from '../db/pool.js'
import { DIM_COLUMN, type Dim, EPOCH_CTE, withTenantTransaction } from './closed-days.js'

// $1 tenant, $2 since (an hour). One statement, so one snapshot: the epoch it stores is the one its
// hourly rows were read under, and a late write that commits meanwhile leaves the rows stale (of an
// older epoch, never read), not wrong. Nothing is stored unless since's day is closed. Hourly rows
// merged before migration 0016 hold a jsonb sketch too: its buckets join the entries.
const FILL = (dim: Dim) => `
WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant($1) AS tenant_id),
${EPOCH_CTE}
INSERT INTO robot_brain.interaction_closed_suffixes AS s (tenant_id, dim, key, since, epoch, events, sketch)
SELECT ctx.tenant_id, '${dim}', h.key, $2::timestamptz, ep.epoch, sum(h.events)::bigint,
       robot_brain.sketch_pack(robot_brain.sketch_compact(robot_brain.sketch_cat(h.entries)))
FROM ctx CROSS JOIN ep CROSS JOIN LATERAL (
  SELECT r.${DIM_COLUMN[dim]} AS key, r.events,
         r.sketch_entries || coalesce((SELECT array_agg(robot_brain.sketch_entry(j.k::integer, j.v::bigint))
                                       FROM jsonb_each_text(r.sketch) j(k, v)), '{}') AS entries
  FROM robot_brain.interaction_rollups r
  WHERE r.tenant_id = ctx.tenant_id AND r.hour >= $2::timestamptz
    AND r.hour < date_trunc('day', $2::timestamptz, 'UTC') + interval '1 day'
) h
WHERE date_trunc('day', $2::timestamptz, 'UTC') < ep.closed_before
GROUP BY ctx.tenant_id, ep.epoch, h.key
HAVING sum(h.events) > 0
ON CONFLICT (tenant_id, dim, key, since) DO UPDATE
  SET epoch = excluded.epoch, events = excluded.events, sketch = excluded.sketch,
      filled_at = excluded.filled_at
  WHERE s.epoch < excluded.epoch`

// The tenant's rows filled more than two hours ago: "the last N days" starts at a new hour every hour,
// so a row is read for about an hour, and a fixed range asked again later is filled again (one
// statement). Keeping a day of them would hold 24 rows per key and range length. Runs in
// withTenantTransaction (closed-days.ts).
const PRUNE = `
DELETE FROM robot_brain.interaction_closed_suffixes
WHERE tenant_id = $1 AND filled_at < now() - interval '2 hours'`

/**
 * Stores, for one dimension, the suffix from `since` (an hour) of its closed day for every key with
 * events in it, and deletes the tenant's rows filled more than two hours ago; returns how many rows were
 * stored. Safe to run concurrently and again: a row of the same epoch is kept, one of an older epoch
 * replaced.
 */
export async function fillClosedSuffixes(db: DbPool, tenant: string, dim: Dim, since: Date): Promise<number> {
  return withTenantTransaction(db, tenant, async (client) => {
    await client.query({ text: PRUNE, values: [tenant] })
    const { rowCount } = await client.query({ text: FILL(dim), values: [tenant, since.toISOString()] })
    return rowCount ?? 0
  })
}
