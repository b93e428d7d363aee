-- Messages the way chatbot code uses them: sessions owned by a user and created before their first
-- turn, turns stored before the robot has answered (completed later), one turn deleted with the
-- session's count kept exact, and session statistics that never wait for a refresh.
-- Valid on PostgreSQL 15 to 18. Runs in one transaction, as the owner (direct URL).

-- A session may carry the id of the user it belongs to (1 to 100 characters, like a session id).
ALTER TABLE robot_brain.sessions
  ADD COLUMN user_id text CHECK (char_length(user_id) BETWEEN 1 AND 100);
-- listSessions({ userId }): a user's sessions, most recently active first, keyset on (last_active, id).
-- Partial: sessions without a user are not listed by user, and need not be indexed.
CREATE INDEX sessions_user_idx
  ON robot_brain.sessions (tenant_id, user_id, last_active DESC, id DESC) WHERE user_id IS NOT NULL;

-- A turn awaiting its answer (a streamed reply) has no robot_response yet; complete_turn adds it.
ALTER TABLE robot_brain.conversations ALTER COLUMN robot_response DROP NOT NULL;

-- Session statistics: each row of the view remembers the version (xmin) of its session's row when it
-- was computed. Every change to a session's turns updates that row in the same transaction (insert:
-- the count upsert; delete: the count; completion: an explicit touch), so a row whose version still
-- matches is exact, and any other session is computed live from its turns. A version is compared for
-- equality only, and a mismatch merely means computing live: nothing can be wrongly stale.
DROP VIEW robot_brain.tenant_session_stats;
DROP MATERIALIZED VIEW robot_brain.session_stats;
CREATE MATERIALIZED VIEW robot_brain.session_stats AS
SELECT c.tenant_id,
       c.session_id,
       count(*)::integer                        AS message_count,
       min(c.created_at)                        AS first_message,
       max(c.created_at)                        AS last_message,
       avg(char_length(c.robot_response))::float8 AS avg_response_length,
       avg(char_length(c.user_message))::float8   AS avg_user_message_length,
       s.xmin::text                             AS session_version
FROM robot_brain.conversations c
JOIN robot_brain.sessions s ON s.tenant_id = c.tenant_id AND s.id = c.session_id
GROUP BY c.tenant_id, c.session_id, s.xmin::text;
CREATE UNIQUE INDEX session_stats_key ON robot_brain.session_stats (tenant_id, session_id);

CREATE VIEW robot_brain.tenant_session_stats WITH (security_barrier) AS
SELECT * FROM robot_brain.session_stats WHERE tenant_id = robot_brain.current_tenant();
GRANT SELECT ON robot_brain.tenant_session_stats TO robot_brain_app;

-- Adds the answer to a turn stored without one, merging p_patch into its metadata. Outcomes:
-- 'completed'; 'unchanged' (already answered with this text, and the patch changes nothing: a retry);
-- 'conflict' (answered otherwise); 'too_large' (merged metadata over 16 KiB as compact JSON, the
-- measure of 0003); no row: no such turn.
-- A function, so the tenant context is set before the turn is read (see delete_session in 0001).
CREATE FUNCTION robot_brain.complete_turn(
  p_tenant text, p_session text, p_id uuid, p_response text, p_patch jsonb
) RETURNS TABLE (outcome text, turn robot_brain.conversations)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v robot_brain.conversations;
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  SELECT * INTO v FROM robot_brain.conversations c
   WHERE c.tenant_id = p_tenant AND c.id = p_id AND c.session_id = p_session
   LIMIT 1 FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF v.robot_response IS NOT NULL THEN
    outcome := CASE WHEN v.robot_response = p_response AND (v.metadata || p_patch) = v.metadata
                    THEN 'unchanged' ELSE 'conflict' END;
  ELSIF robot_brain.json_compact_bytes(v.metadata || p_patch) > 16384 THEN
    outcome := 'too_large';
  ELSE
    UPDATE robot_brain.conversations c
       SET robot_response = p_response, metadata = c.metadata || p_patch
     WHERE c.tenant_id = p_tenant AND c.id = p_id AND c.created_at = v.created_at
    RETURNING * INTO v;
    -- A new version of the session row: its statistics in session_stats are now outdated.
    UPDATE robot_brain.sessions s SET message_count = s.message_count
     WHERE s.tenant_id = p_tenant AND s.id = p_session;
    outcome := 'completed';
  END IF;
  turn := v;
  RETURN NEXT;
END
$$;

-- Deletes one turn and takes it off its session's count, atomically. False: no such turn.
-- Two deletes of the same turn serialize on its row: only the one that deleted it counts.
CREATE FUNCTION robot_brain.delete_turn(p_tenant text, p_session text, p_id uuid) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_deleted integer;
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  DELETE FROM robot_brain.conversations c
   WHERE c.tenant_id = p_tenant AND c.id = p_id AND c.session_id = p_session;
  GET DIAGNOSTICS v_deleted = ROW_COUNT;
  IF v_deleted = 0 THEN
    RETURN false;
  END IF;
  UPDATE robot_brain.sessions s SET message_count = s.message_count - v_deleted
   WHERE s.tenant_id = p_tenant AND s.id = p_session;
  RETURN true;
END
$$;

-- PATCH of a session with a userId: sets the user, then merges the metadata patch (when given) through
-- merge_session_metadata, all in one transaction. No row: no such session.
CREATE FUNCTION robot_brain.update_session(
  p_tenant text, p_session text, p_user_id text, p_patch jsonb
) RETURNS SETOF robot_brain.sessions
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  UPDATE robot_brain.sessions s SET user_id = p_user_id
   WHERE s.tenant_id = p_tenant AND s.id = p_session;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF p_patch IS NOT NULL THEN
    RETURN QUERY SELECT * FROM robot_brain.merge_session_metadata(p_tenant, p_session, p_patch);
  ELSE
    RETURN QUERY SELECT * FROM robot_brain.sessions s WHERE s.tenant_id = p_tenant AND s.id = p_session;
  END IF;
END
$$;

GRANT EXECUTE ON FUNCTION robot_brain.complete_turn(text, text, uuid, text, jsonb),
  robot_brain.delete_turn(text, text, uuid),
  robot_brain.update_session(text, text, text, jsonb) TO robot_brain_app;
