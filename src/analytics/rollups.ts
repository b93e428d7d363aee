// The rollup upserts of the write path, as CTEs appended to the statement that inserts the raw rows:
// the rollups change in the same statement (one round trip, one transaction) and only by the rows that
// statement really inserted (RETURNING of INSERT ... ON CONFLICT DO NOTHING), so a replayed id never
// counts twice. Deletes and completions of turns follow by triggers (migration 0006).
//
// Keys are upserted in sorted order so concurrent statements lock rollup rows in one order.
import { utcDay, utcHour } from './utc.js'

/**
 * Adds inserted turns to personality_rollups. `inserted` names a CTE returning tenant_id, session_id,
 * robot_personality, user_message, robot_response and created_at; `sessions` names the session upsert.
 * Its rows run only after every session row is locked (the InitPlan reads `sessions` whole first): a
 * rollup row is keyed by session, so whoever locks it already holds its session, and no two statements
 * can wait for each other on rollup rows.
 */
export function personalityRollupCte(inserted: string, sessions: string): string {
  return `personality_rollup AS (
  INSERT INTO robot_brain.personality_rollups AS p
    (tenant_id, hour, robot_personality, session_id, turns, user_chars, responses, response_chars)
  SELECT tenant_id, ${utcHour('created_at')}, robot_personality, session_id,
         count(*), sum(char_length(user_message)), count(robot_response),
         coalesce(sum(char_length(robot_response)), 0)
  FROM ${inserted}
  WHERE (SELECT count(*) FROM ${sessions}) >= 0
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 4, 2, 3
  ON CONFLICT (tenant_id, hour, robot_personality, session_id) DO UPDATE
    SET turns = p.turns + excluded.turns, user_chars = p.user_chars + excluded.user_chars,
        responses = p.responses + excluded.responses, response_chars = p.response_chars + excluded.response_chars
  RETURNING 1
)`
}

// How an upsert adds a batch's figures to an interaction rollup row, hourly or daily alike: its sketch
// entries are merged into the stored ones, compacted when the row would grow past what its last
// compaction allows (robot_brain.sketch_add, migration 0021).
const ADD_INTERACTION_FIGURES = `SET events = r.events + excluded.events, successes = r.successes + excluded.successes,
        duration_sum = r.duration_sum + excluded.duration_sum,
        duration_max = greatest(r.duration_max, excluded.duration_max),
        sketch_entries = robot_brain.sketch_add(excluded.sketch_entries, r.sketch_entries, r.sketch_compacted),
        sketch_compacted = robot_brain.sketch_add_compacted(excluded.sketch_entries, r.sketch_entries, r.sketch_compacted)`

/**
 * Adds inserted interaction events to interaction_rollups (per hour, robot and type) and to
 * interaction_day_rollups (per UTC day, and per robot or per type): counts, successes, the duration
 * sum and max, and the duration sketch entries (migration 0016), added to the stored ones, which
 * costs a concatenation, not a rebuild of the sketch. `inserted` names a CTE returning tenant_id,
 * robot_id, interaction_type, duration_ms, success and created_at. The batch is summed once per hour,
 * robot and type; the daily rows are sums of those few rows (their entries concatenated, migration
 * 0021), not a second pass over the events. The hourly rows are upserted before the daily ones, each
 * in key order, so concurrent statements lock rollup rows in one order; the tenant's analytics epoch
 * last, and only for events dated before yesterday (UTC; in a day's last hour, before today).
 */
export function interactionRollupCte(inserted: string): string {
  return `interaction_cells AS (
  SELECT tenant_id, ${utcHour('created_at')} AS hour, robot_id, interaction_type,
         robot_brain.sketch_index(duration_ms) AS idx, count(*) AS n,
         count(*) FILTER (WHERE success) AS ok, sum(duration_ms) AS total, max(duration_ms) AS top
  FROM ${inserted}
  GROUP BY 1, 2, 3, 4, 5
),
interaction_hours AS (
  SELECT tenant_id, hour, robot_id, interaction_type, sum(n)::bigint AS n, sum(ok)::bigint AS ok,
         sum(total)::bigint AS total, max(top) AS top, array_agg(robot_brain.sketch_entry(idx, n)) AS entries
  FROM interaction_cells
  GROUP BY 1, 2, 3, 4
),
interaction_rollup AS (
  INSERT INTO robot_brain.interaction_rollups AS r
    (tenant_id, hour, robot_id, interaction_type, events, successes, duration_sum, duration_max, sketch,
     sketch_entries)
  SELECT tenant_id, hour, robot_id, interaction_type, n, ok, total, top, '{}'::jsonb, entries
  FROM interaction_hours
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (tenant_id, hour, robot_id, interaction_type) DO UPDATE
    ${ADD_INTERACTION_FIGURES}
  RETURNING 1
),
interaction_day_rollup AS (
  INSERT INTO robot_brain.interaction_day_rollups AS r
    (tenant_id, dim, day, key, events, successes, duration_sum, duration_max, sketch_entries)
  SELECT h.tenant_id, d.dim, ${utcDay('h.hour')}, d.key, sum(h.n), sum(h.ok), sum(h.total),
         max(h.top), robot_brain.sketch_cat(h.entries)
  FROM interaction_hours h
  CROSS JOIN LATERAL (VALUES ('r'::"char", h.robot_id), ('t'::"char", h.interaction_type)) d(dim, key)
  WHERE (SELECT count(*) FROM interaction_rollup) >= 0
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (tenant_id, dim, day, key) DO UPDATE
    ${ADD_INTERACTION_FIGURES}
  RETURNING 1
),
-- Events dated before yesterday (UTC) may reach a closed day, whose answers are cached
-- (interaction_closed_days, migration 0020): raising the tenant's epoch here, with the events, voids
-- those answers for every reader from the moment the events are visible. Last, after the rollup rows.
-- Yesterday closes at the next midnight, and its answers are computed after that, so they see every
-- write committed by then; the hour of margin covers a statement that starts before that midnight
-- and commits after it.
-- The raise is counted, with the earliest day it reaches, so that a fill keeps the answers of the days
-- before it (migration 0025).
interaction_epoch AS (
  INSERT INTO robot_brain.analytics_epochs AS e (tenant_id, epoch, kept_raises, kept_before)
  SELECT tenant_id, 1::bigint, 1::bigint, min(${utcDay('hour')}) FROM interaction_hours
  WHERE hour < ${utcDay("now() + interval '1 hour'")} - interval '1 day'
    AND (SELECT count(*) FROM interaction_day_rollup) >= 0
  GROUP BY tenant_id
  ON CONFLICT (tenant_id) DO UPDATE SET epoch = e.epoch + 1, kept_raises = e.kept_raises + 1,
    kept_before = least(e.kept_before, excluded.kept_before)
  RETURNING 1
)`
}
