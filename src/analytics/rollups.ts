// The rollup upserts of the write path, as CTEs appended to the statement that inserts the raw rows:
// the rollups change in the same statement (one round trip, one transaction) and only by the rows that
// statement really inserted (RETURNING of INSERT ... ON CONFLICT DO NOTHING), so a replayed id never
// counts twice. Deletes and completions of turns follow by triggers (migration 0006).
//
// Keys are upserted in sorted order so concurrent statements lock rollup rows in one order.

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
  SELECT tenant_id, date_trunc('hour', created_at, 'UTC'), robot_personality, session_id,
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

/**
 * Adds inserted interaction events to interaction_rollups: counts, successes, the duration sum and
 * max, and the duration sketch (bucket counts, merged into the stored one). `inserted` names a CTE
 * returning tenant_id, robot_id, interaction_type, duration_ms, success and created_at.
 */
export function interactionRollupCte(inserted: string): string {
  return `interaction_rollup AS (
  INSERT INTO robot_brain.interaction_rollups AS r
    (tenant_id, hour, robot_id, interaction_type, events, successes, duration_sum, duration_max, sketch)
  SELECT tenant_id, hour, robot_id, interaction_type, sum(n), sum(ok), sum(total), max(top),
         jsonb_object_agg(idx::text, n)
  FROM (
    SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, robot_id, interaction_type,
           robot_brain.sketch_index(duration_ms) AS idx, count(*) AS n,
           count(*) FILTER (WHERE success) AS ok, sum(duration_ms) AS total, max(duration_ms) AS top
    FROM ${inserted}
    GROUP BY 1, 2, 3, 4, 5
  ) b
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (tenant_id, hour, robot_id, interaction_type) DO UPDATE
    SET events = r.events + excluded.events, successes = r.successes + excluded.successes,
        duration_sum = r.duration_sum + excluded.duration_sum,
        duration_max = greatest(r.duration_max, excluded.duration_max),
        sketch = robot_brain.sketch_merge(r.sketch, excluded.sketch)
  RETURNING 1
)`
}
