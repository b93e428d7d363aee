-- The 16 KiB limit of userMetadata applies to the merged object, not only to each patch: checked in
-- the statement that merges, so two concurrent patches cannot both pass it (the second waits for the
-- first's row lock and is checked against the merged result), and nothing is written when over.

-- Bytes of the value as compact JSON (no spaces), the measure of the application's limit
-- (LIMITS.metadataBytes, on JSON.stringify): jsonb's text form less the space after each ':' and ','.
CREATE FUNCTION robot_brain.json_compact_bytes(p_value jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT octet_length(p_value::text) - coalesce((
    SELECT sum(CASE jsonb_typeof(v)
                 WHEN 'object' THEN greatest(2 * (SELECT count(*) FROM jsonb_object_keys(v)) - 1, 0)
                 WHEN 'array' THEN greatest(jsonb_array_length(v) - 1, 0)
                 ELSE 0
               END)
    FROM jsonb_path_query(p_value, 'strict $.**') AS v
  ), 0)::integer
$$;

-- As in 0001, plus the limit: over 16384 bytes the statement fails with SQLSTATE RB413 and the
-- update is rolled back with it.
CREATE OR REPLACE FUNCTION robot_brain.merge_session_metadata(p_tenant text, p_session text, p_patch jsonb)
RETURNS SETOF robot_brain.sessions
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_row   robot_brain.sessions;
  v_bytes integer;
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  UPDATE robot_brain.sessions s SET user_metadata = s.user_metadata || p_patch
   WHERE s.tenant_id = p_tenant AND s.id = p_session
  RETURNING s.* INTO v_row;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  -- The text form is never shorter than the compact one: most merges skip the exact count.
  IF octet_length(v_row.user_metadata::text) > 16384 THEN
    v_bytes := robot_brain.json_compact_bytes(v_row.user_metadata);
    IF v_bytes > 16384 THEN
      RAISE EXCEPTION 'merged with the stored userMetadata it would be % bytes as JSON, over the limit of 16384', v_bytes
        USING ERRCODE = 'RB413',
              HINT = 'replace large keys with smaller values (or null) in the same or an earlier patch';
    END IF;
  END IF;
  RETURN NEXT v_row;
END
$$;
