-- Search speed: the full-text match through the GIN index of search_vector for the runtime role.
-- Valid on PostgreSQL 15 to 18. Runs in one transaction, as the owner (direct URL). Online: one new
-- function; nothing reads or locks the conversation tables.
--
-- Why a function: under row-level security a condition whose operator is not LEAKPROOF may not be
-- evaluated before the policy's own, so it is never an index condition. `@@` (ts_match_vq) is not
-- leakproof, so for the runtime role every full-text search read every turn of the tenant and tested
-- `@@` on each (measured: 0.5 to 0.9 s at 100k turns, growing with the table), while the owner's
-- plan used the GIN index. Marking `@@` leakproof takes a superuser, which managed servers do not
-- give. This function runs as the owner (whose policy is `true`, so nothing stands before the index)
-- and applies the tenant condition itself: `p_tenant` only when it is the tenant the caller's
-- transaction acts for (robot_brain.use_tenant), exactly what the runtime role's policy allows it to
-- read. (Taking the tenant as an argument also makes the caller's plan run use_tenant first.)
--
-- It returns the newest `p_candidates` matches, each with its ts_rank: ranking reads each candidate's
-- vector, so bounding the candidates bounds a search for a frequent word; the caller keeps the best.
-- Newest first, by time windows (the monthly partitions newest first, then what the default
-- partition holds after and before them), each partition's matches from its GIN index, stopping
-- once enough are found: a search reads the matches of the newest months only, however many months
-- are kept. (One statement with ORDER BY created_at would sort every match of every partition: the
-- planner, expecting few matches, does not stop early.) The filters that do not narrow a search to a
-- few turns (personality, time range, metadata) are applied here, before the bound, so a filtered
-- search never returns fewer results than match; a search narrowed to one session or user reads that
-- session's turns by their index instead (src/search/fulltext.ts).
CREATE FUNCTION robot_brain.fulltext_matches(
  p_tenant text, p_query text, p_candidates integer,
  p_personality text, p_from timestamptz, p_to timestamptz, p_metadata jsonb
) RETURNS TABLE (
  id uuid, session_id text, robot_personality text, user_message text, robot_response text,
  metadata jsonb, created_at timestamptz, score real
)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
-- Each statement planned once per connection (plpgsql keeps its plans): the window's partition is
-- chosen when the plan starts, from the bounds. Planning a custom plan per window cost more than
-- running it (measured: 2 to 4 ms of planning against under 1 ms of GIN scan, per month).
SET plan_cache_mode = force_generic_plan
-- The planner takes `@@` for a cheap test and, for a partition of a few thousand turns, would read
-- all of them (by a scan or the tenant's key) rather than the GIN index; testing `@@` reads each
-- turn's vector, so that plan costs every turn of the partition, the very cost avoided here.
SET enable_seqscan = off
SET enable_indexscan = off
AS $$
#variable_conflict use_column
DECLARE
  v_query tsquery := robot_brain.turn_search_query(p_query);
  v_left  integer := p_candidates;
  v_from  timestamptz := coalesce(p_from, '-infinity'::timestamptz);
  v_to    timestamptz := coalesce(p_to, 'infinity'::timestamptz);
  v_los   timestamptz[];
  v_his   timestamptz[];
  v_lo    timestamptz;
  v_hi    timestamptz;
  v_i     integer := 1;
  v_j     integer;
  v_size  integer := 1;
  v_n     integer;
BEGIN
  IF p_tenant IS NULL OR p_tenant IS DISTINCT FROM robot_brain.current_tenant() OR v_left < 1 THEN
    RETURN;
  END IF;
  SELECT array_agg(w.lo ORDER BY w.lo DESC), array_agg(w.hi ORDER BY w.lo DESC) INTO v_los, v_his
  FROM (
    WITH parts AS (
      SELECT (m[1])::timestamptz AS lo, (m[2])::timestamptz AS hi
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                      'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)') AS m
      WHERE i.inhparent = 'robot_brain.conversations'::regclass AND m IS NOT NULL
    ),
    windows AS (
      SELECT lo, hi FROM parts
      UNION ALL SELECT max(hi), 'infinity'::timestamptz FROM parts  -- the default partition, later turns
      UNION ALL SELECT '-infinity'::timestamptz, min(lo) FROM parts -- and earlier ones
      UNION ALL SELECT '-infinity'::timestamptz, 'infinity'::timestamptz
      WHERE NOT EXISTS (SELECT FROM parts)                           -- no monthly partitions
    )
    SELECT greatest(w.lo, v_from) AS lo, least(w.hi, v_to) AS hi FROM windows w
    WHERE w.lo IS NOT NULL AND w.hi IS NOT NULL AND w.lo < v_to AND w.hi > v_from
  ) w;
  -- Windows of 1, 2, 4, ... months: a frequent word fills the bound in the newest month, a rare one
  -- takes a few statements, not one per month (each statement costs its start even when it finds
  -- nothing).
  WHILE v_i <= coalesce(array_length(v_los, 1), 0) LOOP
    v_j := least(v_i + v_size - 1, array_length(v_los, 1));
    v_lo := v_los[v_j];
    v_hi := v_his[v_i];
    -- ts_rank of the candidates only, after the limit (not of every match in the window).
    RETURN QUERY
      SELECT k.id, k.session_id, k.robot_personality, k.user_message, k.robot_response, k.metadata,
             k.created_at, ts_rank(k.search_vector, v_query)
      FROM (
        SELECT c.id, c.session_id, c.robot_personality, c.user_message, c.robot_response, c.metadata,
               c.created_at, c.search_vector
        FROM robot_brain.conversations c
        WHERE c.tenant_id = p_tenant AND c.search_vector @@ v_query
          AND c.created_at >= v_lo AND c.created_at < v_hi
          AND (p_personality IS NULL OR c.robot_personality = p_personality)
          AND (p_metadata IS NULL OR c.metadata @> p_metadata)
        ORDER BY c.created_at DESC
        LIMIT v_left
      ) k;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_left := v_left - v_n;
    EXIT WHEN v_left <= 0;
    v_i := v_j + 1;
    v_size := v_size * 2;
  END LOOP;
END
$$;
REVOKE EXECUTE ON FUNCTION robot_brain.fulltext_matches(text, text, integer, text, timestamptz, timestamptz, jsonb)
  FROM PUBLIC;
GRANT EXECUTE ON FUNCTION robot_brain.fulltext_matches(text, text, integer, text, timestamptz, timestamptz, jsonb)
  TO robot_brain_app;
