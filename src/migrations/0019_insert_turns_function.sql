-- The turn write path as a function, so its plan is made once per server connection also through a
-- pooler that keeps no prepared statements (PgBouncer in transaction mode before 1.21, or any pooler
-- run with prepared statements off). Valid on PostgreSQL 15 to 18. Runs in one transaction, as the
-- owner (direct URL). Online: one new function; no table is locked or read.
--
-- Measured on PostgreSQL 15 (one connection, one turn per statement, server CPU from /proc): the
-- statement sent unnamed, as such poolers send it, cost 1,470 µs of server CPU per turn, against 610
-- µs as a named prepared statement; planning its six CTEs, five of them writes, is most of its cost.
-- plpgsql keeps the plan of the statement inside for the life of the server connection, whoever
-- calls it, so every client pays about what a prepared statement costs.
--
-- The statement is the one src/store/turns.ts sent before (see the comment there for what each part
-- does: claim ids in turn_ids, insert the turns claimed, upsert their sessions in id order with the
-- span of turn times, add them to the personality rollups). The rollup part must stay equal to
-- personalityRollupCte in src/analytics/rollups.ts, which the seed and import paths still append to
-- their own statements. It returns the turns inserted; a replayed id is missing from what it returns.
-- force_generic_plan: the plan knows no array's length; a custom plan per call would only add
-- planning back (the plan is the same for one turn and for a group-commit batch of 64).
CREATE FUNCTION robot_brain.insert_turns(
  p_tenant text, p_ids uuid[], p_sessions text[], p_personalities text[], p_user_messages text[],
  p_responses text[], p_metadata jsonb[], p_created timestamptz[], p_users text[]
) RETURNS TABLE (
  id uuid, session_id text, robot_personality text, user_message text, robot_response text,
  metadata jsonb, created_at timestamptz
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
  WITH ctx AS MATERIALIZED (SELECT robot_brain.use_tenant(p_tenant) AS tenant_id),
  req AS (
    SELECT ctx.tenant_id, i.*
    FROM ctx, unnest(p_ids, p_sessions, p_personalities, p_user_messages, p_responses, p_metadata, p_created, p_users)
      AS i(id, session_id, robot_personality, user_message, robot_response, metadata, created_at, user_id)
  ),
  claim AS (
    INSERT INTO robot_brain.turn_ids (tenant_id, id, created_at)
    SELECT req.tenant_id, req.id, req.created_at FROM req
    -- Until the 0009 backfill ends, an id of an older turn may have no key yet: look for the turn.
    WHERE robot_brain.turn_ids_complete()
       OR NOT EXISTS (SELECT FROM robot_brain.conversations x WHERE x.tenant_id = req.tenant_id AND x.id = req.id)
    ON CONFLICT DO NOTHING
    RETURNING turn_ids.id, turn_ids.created_at
  ),
  c AS (
    INSERT INTO robot_brain.conversations AS t
      (tenant_id, id, session_id, robot_personality, user_message, robot_response, metadata, created_at)
    SELECT req.tenant_id, req.id, req.session_id, req.robot_personality, req.user_message, req.robot_response,
           req.metadata, req.created_at
    FROM req WHERE (req.id, req.created_at) IN (SELECT claim.id, claim.created_at FROM claim)
    ON CONFLICT (tenant_id, id, created_at) DO NOTHING
    RETURNING t.*
  ),
  per_session AS (
    SELECT c.tenant_id, c.session_id, count(*)::integer AS n, min(c.created_at) AS first_at,
           max(c.created_at) AS last_at, max(u.user_id) AS user_id
    FROM c LEFT JOIN (SELECT req.session_id, max(req.user_id) AS user_id FROM req GROUP BY req.session_id) u
      ON u.session_id = c.session_id
    GROUP BY c.tenant_id, c.session_id
    ORDER BY c.session_id
  ),
  s AS (
    INSERT INTO robot_brain.sessions AS s
      (tenant_id, id, created_at, last_active, message_count, user_id, turns_from, turns_to)
    SELECT ps.tenant_id, ps.session_id, ps.first_at, ps.last_at, ps.n, ps.user_id, ps.first_at, ps.last_at
    FROM per_session ps
    ON CONFLICT (tenant_id, id) DO UPDATE
      SET message_count = s.message_count + excluded.message_count,
          last_active = greatest(s.last_active, excluded.last_active),
          user_id = coalesce(s.user_id, excluded.user_id),
          turns_from = CASE WHEN s.turns_from IS NULL AND s.message_count > 0 THEN NULL
                            ELSE least(s.turns_from, excluded.turns_from) END,
          turns_to = CASE WHEN s.turns_from IS NULL AND s.message_count > 0 THEN NULL
                          ELSE greatest(s.turns_to, excluded.turns_to) END
    RETURNING s.id
  ),
  personality_rollup AS (
    INSERT INTO robot_brain.personality_rollups AS p
      (tenant_id, hour, robot_personality, session_id, turns, user_chars, responses, response_chars)
    SELECT c.tenant_id, date_trunc('hour', c.created_at, 'UTC'), c.robot_personality, c.session_id,
           count(*), sum(char_length(c.user_message)), count(c.robot_response),
           coalesce(sum(char_length(c.robot_response)), 0)
    FROM c
    WHERE (SELECT count(*) FROM s) >= 0
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 4, 2, 3
    ON CONFLICT (tenant_id, hour, robot_personality, session_id) DO UPDATE
      SET turns = p.turns + excluded.turns, user_chars = p.user_chars + excluded.user_chars,
          responses = p.responses + excluded.responses, response_chars = p.response_chars + excluded.response_chars
    RETURNING 1
  )
  SELECT c.id, c.session_id, c.robot_personality, c.user_message, c.robot_response, c.metadata, c.created_at
  FROM c;
END
$$;
GRANT EXECUTE ON FUNCTION robot_brain.insert_turns(text, uuid[], text[], text[], text[], text[], jsonb[], timestamptz[], text[])
  TO robot_brain_app;
