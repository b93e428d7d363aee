-- Real-time analytics: hourly rollups of turns (per personality and session) and of interaction events
-- (per robot and interaction type, with a mergeable duration sketch), kept exact by the write path, and
-- the bookkeeping of the session_stats refresh. Valid on PostgreSQL 15 to 18. Runs in one transaction,
-- as the owner (direct URL).
--
-- Online: the tables and the backfill come first and only read the raw tables (writers are not
-- blocked); the triggers, which lock conversations briefly, come last with a lock timeout, so a busy
-- table makes the migration fail fast (run it again) rather than queue writers behind it.

-- Turns per hour, personality and session. Keyed by session, so the distinct sessions of any range are
-- exact, and a row is only ever written by statements that already lock that session's row (no new
-- contention on the write path). responses/response_chars count answered turns only: a turn stored
-- before its answer (pending) adds to them when it is completed.
CREATE TABLE robot_brain.personality_rollups (
  tenant_id         text        NOT NULL,
  hour              timestamptz NOT NULL,
  robot_personality text        NOT NULL,
  session_id        text        NOT NULL,
  -- No CHECK (>= 0): a decrement for a row the rollup never had (a turn written by code older than
  -- this migration) inserts a negative row, which the same trigger deletes at once.
  turns             integer     NOT NULL,
  user_chars        bigint      NOT NULL,
  responses         integer     NOT NULL,
  response_chars    bigint      NOT NULL,
  PRIMARY KEY (tenant_id, hour, robot_personality, session_id)
);

-- Interaction events per hour, robot and interaction type. sketch maps a log-bucket index (as text) to
-- the number of durations in it (DDSketch, relative accuracy 0.95%; index -1 holds zero durations);
-- see src/analytics/sketch.ts. Counts, sums and max are exact.
CREATE TABLE robot_brain.interaction_rollups (
  tenant_id        text        NOT NULL,
  hour             timestamptz NOT NULL,
  robot_id         text        NOT NULL,
  interaction_type text        NOT NULL,
  events           bigint      NOT NULL CHECK (events >= 0),
  successes        bigint      NOT NULL CHECK (successes >= 0),
  duration_sum     bigint      NOT NULL CHECK (duration_sum >= 0),
  duration_max     integer     NOT NULL,
  sketch           jsonb       NOT NULL,
  PRIMARY KEY (tenant_id, hour, robot_id, interaction_type)
);

-- The log bucket of a duration: ceil(log_gamma(ms)) with gamma = (1 + a) / (1 - a), a = 0.0095.
CREATE FUNCTION robot_brain.sketch_index(p_ms integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN p_ms <= 0 THEN -1 ELSE ceil(ln(p_ms::float8) / ln(1.0095::float8 / 0.9905::float8))::integer END
$$;

-- Two sketches added bucket by bucket.
CREATE FUNCTION robot_brain.sketch_merge(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
  FROM (SELECT k, sum(v::bigint) AS n
        FROM (SELECT * FROM jsonb_each_text(a) UNION ALL SELECT * FROM jsonb_each_text(b)) e(k, v)
        GROUP BY k) s
$$;

ALTER TABLE robot_brain.personality_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.personality_rollups FORCE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.interaction_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.interaction_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.personality_rollups TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY tenant_isolation ON robot_brain.interaction_rollups TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.personality_rollups TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_maintenance ON robot_brain.interaction_rollups TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON robot_brain.personality_rollups, robot_brain.interaction_rollups
  TO robot_brain_app;
GRANT EXECUTE ON FUNCTION robot_brain.sketch_index(integer), robot_brain.sketch_merge(jsonb, jsonb)
  TO robot_brain_app;

-- Backfill from the rows already stored (a read of the raw tables: writers carry on meanwhile).
INSERT INTO robot_brain.personality_rollups
SELECT tenant_id, date_trunc('hour', created_at, 'UTC'), robot_personality, session_id,
       count(*), coalesce(sum(char_length(user_message)), 0),
       count(robot_response), coalesce(sum(char_length(robot_response)), 0)
FROM robot_brain.conversations
GROUP BY 1, 2, 3, 4;

INSERT INTO robot_brain.interaction_rollups
SELECT tenant_id, hour, robot_id, interaction_type, sum(n), sum(ok), sum(total), max(top),
       jsonb_object_agg(idx::text, n)
FROM (
  SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, robot_id, interaction_type,
         robot_brain.sketch_index(duration_ms) AS idx, count(*) AS n,
         count(*) FILTER (WHERE success) AS ok, sum(duration_ms) AS total, max(duration_ms) AS top
  FROM robot_brain.robot_interactions
  GROUP BY 1, 2, 3, 4, 5
) b
GROUP BY 1, 2, 3, 4;

-- Turns leave the rollups however they go: one turn deleted, a session deleted (the cascade), a user
-- erased; and a turn completed later (its answer arrives) adds its response. Statement triggers over
-- the transition tables: one rollup change per statement and key, not one per row. Rows are changed
-- in key order, like the write path, so concurrent statements cannot deadlock on them.
CREATE FUNCTION robot_brain.personality_rollups_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO robot_brain.personality_rollups AS p
    SELECT tenant_id, date_trunc('hour', created_at, 'UTC'), robot_personality, session_id,
           -count(*), -coalesce(sum(char_length(user_message)), 0),
           -count(robot_response), -coalesce(sum(char_length(robot_response)), 0)
    FROM gone GROUP BY 1, 2, 3, 4
    ORDER BY 1, 4, 2, 3
    ON CONFLICT (tenant_id, hour, robot_personality, session_id) DO UPDATE
      SET turns = p.turns + excluded.turns, user_chars = p.user_chars + excluded.user_chars,
          responses = p.responses + excluded.responses, response_chars = p.response_chars + excluded.response_chars;
    DELETE FROM robot_brain.personality_rollups p
     WHERE p.turns <= 0 AND (p.tenant_id, p.session_id) IN (SELECT DISTINCT tenant_id, session_id FROM gone);
  ELSE
    INSERT INTO robot_brain.personality_rollups AS p
    SELECT tenant_id, hour, robot_personality, session_id, sum(t), sum(uc), sum(r), sum(rc)
    FROM (
      SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, robot_personality, session_id,
             1 AS t, char_length(user_message)::bigint AS uc, (robot_response IS NOT NULL)::integer AS r,
             coalesce(char_length(robot_response), 0)::bigint AS rc
      FROM fresh
      UNION ALL
      SELECT tenant_id, date_trunc('hour', created_at, 'UTC'), robot_personality, session_id,
             -1, -char_length(user_message)::bigint, -(robot_response IS NOT NULL)::integer,
             -coalesce(char_length(robot_response), 0)::bigint
      FROM stale
    ) d
    GROUP BY 1, 2, 3, 4
    HAVING sum(t) <> 0 OR sum(uc) <> 0 OR sum(r) <> 0 OR sum(rc) <> 0
    ORDER BY 1, 4, 2, 3
    ON CONFLICT (tenant_id, hour, robot_personality, session_id) DO UPDATE
      SET turns = p.turns + excluded.turns, user_chars = p.user_chars + excluded.user_chars,
          responses = p.responses + excluded.responses, response_chars = p.response_chars + excluded.response_chars;
    DELETE FROM robot_brain.personality_rollups p
     WHERE p.turns <= 0 AND (p.tenant_id, p.session_id) IN (SELECT DISTINCT tenant_id, session_id FROM stale);
  END IF;
  RETURN NULL;
END
$$;

-- Session statistics refresh: when it last ran (the view's age), taken by one serve process at a time.
CREATE TABLE robot_brain.stats_refresh (
  name         text        PRIMARY KEY,
  refreshed_at timestamptz
);
INSERT INTO robot_brain.stats_refresh (name, refreshed_at) VALUES ('session_stats', now());
GRANT SELECT ON robot_brain.stats_refresh TO robot_brain_app;

SET LOCAL lock_timeout = '2s';
CREATE TRIGGER personality_rollups_delete AFTER DELETE ON robot_brain.conversations
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.personality_rollups_follow();
CREATE TRIGGER personality_rollups_update AFTER UPDATE ON robot_brain.conversations
  REFERENCING OLD TABLE AS stale NEW TABLE AS fresh
  FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.personality_rollups_follow();
