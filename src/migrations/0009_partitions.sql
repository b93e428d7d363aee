-- Costs that do not grow with the months kept: a turn's id is claimed in one small table, whatever
-- the partition its createdAt falls in; a session knows the time span of its turns, so history reads
-- only the partitions inside it; history is a function, whose plans PostgreSQL keeps per connection
-- even through a pooler that cannot keep prepared statements. Valid on PostgreSQL 15 to 18. Runs in
-- one transaction, as the owner (direct URL).
--
-- Online: the tables, columns and functions are catalog changes; the triggers, which lock
-- conversations briefly, come last with a lock timeout. Keys and spans of the rows already stored are
-- filled afterwards in committed batches (online steps 0009:backfill_turn_ids and
-- 0009:backfill_session_spans); until then the write path searches the partitions for an id that has
-- no key, and history reads every partition of a session whose span is unknown.

-- Every stored turn id, with the created_at (partition key) of its row. The primary key makes an id
-- one turn across all partitions: conversations' own key holds created_at, so a replay sent with another
-- createdAt would not conflict there. One narrow row per turn (about 70 bytes with its index entry);
-- kept as long as the turn (deleted with it; kept when a month is archived, so a restored turn and a
-- replay of it still agree).
CREATE TABLE robot_brain.turn_ids (
  tenant_id  text        NOT NULL,
  id         uuid        NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
ALTER TABLE robot_brain.turn_ids ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.turn_ids FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.turn_ids TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.turn_ids TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, DELETE ON robot_brain.turn_ids TO robot_brain_app;

-- The time span of a session's turns: no turn of the session lies outside [turns_from, turns_to].
-- NULL: not known (a session older than this migration, until its backfill; or one written only by
-- a path that does not keep the span): history then reads every partition. Deleting turns leaves the
-- span wider than needed, never narrower.
ALTER TABLE robot_brain.sessions ADD COLUMN turns_from timestamptz, ADD COLUMN turns_to timestamptz;

-- True once every turn stored before this migration has its id in turn_ids (the backfill's last act
-- replaces this function). Inlined and folded to a constant where it is used, so the write path's
-- plan holds no search of the partitions once it says true; replacing it invalidates those plans.
CREATE FUNCTION robot_brain.turn_ids_complete() RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT false $$;

-- After any statement that inserts turns (the write path, seed, import, restore): the ids of its rows
-- are in turn_ids, and no id is stored with two created_at. The write path claims its ids itself
-- before inserting (src/store/turns.ts), so a replay with another createdAt is skipped there and here
-- every key is found already. Another path that inserts an id stored with another created_at is
-- refused (unique_violation): two statements doing so at once meet in the unique index of turn_ids,
-- and the second fails. Set-based, once per statement: a row trigger would cost a function call and
-- an insert per turn, a quarter of the write path's time in group-commit batches.
CREATE FUNCTION robot_brain.conversations_claim_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_id uuid;
BEGIN
  IF NOT robot_brain.turn_ids_complete() THEN
    -- Backfill still running: key the older rows of these ids first (every partition is searched).
    INSERT INTO robot_brain.turn_ids (tenant_id, id, created_at)
    SELECT c.tenant_id, c.id, min(c.created_at) FROM robot_brain.conversations c
      JOIN (SELECT DISTINCT i.tenant_id, i.id FROM inserted_turns i) n ON n.tenant_id = c.tenant_id AND n.id = c.id
     GROUP BY 1, 2
    ON CONFLICT DO NOTHING;
  END IF;
  INSERT INTO robot_brain.turn_ids (tenant_id, id, created_at)
  SELECT i.tenant_id, i.id, i.created_at FROM inserted_turns i
  ON CONFLICT DO NOTHING;
  SELECT i.id INTO v_id FROM inserted_turns i
    JOIN robot_brain.turn_ids k ON k.tenant_id = i.tenant_id AND k.id = i.id
   WHERE k.created_at <> i.created_at LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'turn id % is already stored with another createdAt', v_id
      USING ERRCODE = 'unique_violation', HINT = 'an id names one turn: send a new id for another turn';
  END IF;
  RETURN NULL;
END
$$;

-- A deleted turn (one turn, a session, a user) gives its id back.
CREATE FUNCTION robot_brain.conversations_release_ids() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM robot_brain.turn_ids k USING deleted_turns d
   WHERE k.tenant_id = d.tenant_id AND k.id = d.id AND k.created_at = d.created_at;
  RETURN NULL;
END
$$;

-- Widens the span of sessions whose new turns fall outside it, whatever path inserted them. The write
-- path sets the span in its own session upsert, so for it this finds nothing to change. An unknown
-- span stays unknown (older turns may lie anywhere).
CREATE FUNCTION robot_brain.conversations_widen_spans() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE robot_brain.sessions s
     SET turns_from = least(s.turns_from, n.lo), turns_to = greatest(s.turns_to, n.hi)
    FROM (SELECT i.tenant_id, i.session_id, min(i.created_at) AS lo, max(i.created_at) AS hi
            FROM inserted_turns i GROUP BY 1, 2) n
   WHERE s.tenant_id = n.tenant_id AND s.id = n.session_id
     AND (s.turns_from > n.lo OR s.turns_to < n.hi);
  RETURN NULL;
END
$$;

-- A page of a session's turns, in key order: p_asc false: newest first, keys strictly below
-- (p_us, p_id); true: oldest first, strictly above. At most p_limit rows, none that starts past
-- p_max_bytes of text (octet_length reads the stored size without decompressing); `fetched` counts
-- the rows before the byte cut, so the caller knows more exist.
-- The session's span, read first, bounds created_at in the statement that follows, so it reads only
-- the partitions inside the span (and before or after the cursor): the others are pruned when its plan
-- starts, before any of their indexes is opened. plpgsql plans each statement once per connection
-- (so also through a pooler that keeps no prepared statements); force_generic_plan keeps it so, where
-- a custom plan per call would cost more than the read (measured: planning the page query is most of
-- its time, and a generic plan with 41 partitions still runs faster than a custom one with 1).
CREATE FUNCTION robot_brain.history_page(
  p_tenant text, p_session text, p_us bigint, p_id uuid, p_limit integer, p_max_bytes integer, p_asc boolean
) RETURNS TABLE (
  id uuid, session_id text, robot_personality text, user_message text, robot_response text,
  metadata jsonb, created_at timestamptz, fetched bigint
)
LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
  v_key  timestamptz := timestamptz 'epoch' + p_us * interval '1 microsecond';
  v_from timestamptz;
  v_to   timestamptz;
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  SELECT s.turns_from, s.turns_to INTO v_from, v_to
    FROM robot_brain.sessions s WHERE s.tenant_id = p_tenant AND s.id = p_session;
  IF NOT FOUND THEN
    RETURN; -- no session, no turns (a turn's session row exists while the turn does)
  END IF;
  v_from := coalesce(v_from, '-infinity');
  v_to := coalesce(v_to, 'infinity');
  IF p_asc THEN
    v_from := greatest(v_from, v_key);
    RETURN QUERY
      SELECT q.id, q.session_id, q.robot_personality, q.user_message, q.robot_response, q.metadata,
             q.created_at, q.fetched
      FROM (
        SELECT p.*, count(*) OVER () AS fetched,
          coalesce(sum(coalesce(octet_length(p.user_message), 0) + coalesce(octet_length(p.robot_response), 0)
                       + octet_length(p.metadata::text))
            OVER (ORDER BY p.created_at, p.id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS bytes_before
        FROM (
          SELECT c.id, c.session_id, c.robot_personality, c.user_message, c.robot_response, c.metadata, c.created_at
          FROM robot_brain.conversations c
          WHERE c.tenant_id = p_tenant AND c.session_id = p_session
            AND c.created_at >= v_from AND c.created_at <= v_to
            AND (c.created_at, c.id) > (v_key, p_id)
          ORDER BY c.created_at, c.id
          LIMIT p_limit
        ) p
      ) q
      WHERE q.bytes_before < p_max_bytes
      ORDER BY q.created_at, q.id;
  ELSE
    v_to := least(v_to, v_key);
    RETURN QUERY
      SELECT q.id, q.session_id, q.robot_personality, q.user_message, q.robot_response, q.metadata,
             q.created_at, q.fetched
      FROM (
        SELECT p.*, count(*) OVER () AS fetched,
          coalesce(sum(coalesce(octet_length(p.user_message), 0) + coalesce(octet_length(p.robot_response), 0)
                       + octet_length(p.metadata::text))
            OVER (ORDER BY p.created_at DESC, p.id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS bytes_before
        FROM (
          SELECT c.id, c.session_id, c.robot_personality, c.user_message, c.robot_response, c.metadata, c.created_at
          FROM robot_brain.conversations c
          WHERE c.tenant_id = p_tenant AND c.session_id = p_session
            AND c.created_at >= v_from AND c.created_at <= v_to
            AND (c.created_at, c.id) < (v_key, p_id)
          ORDER BY c.created_at DESC, c.id DESC
          LIMIT p_limit
        ) p
      ) q
      WHERE q.bytes_before < p_max_bytes
      ORDER BY q.created_at DESC, q.id DESC;
  END IF;
END
$$;
GRANT EXECUTE ON FUNCTION robot_brain.history_page(text, text, bigint, uuid, integer, integer, boolean)
  TO robot_brain_app;

-- One batch of the span backfill: locks the next sessions after (p_tenant, p_id) first, then reads
-- their turns in a statement of its own, whose snapshot sees every turn committed before the locks: a
-- writer that inserted a turn of one of them before the lock and upserts the session after it finds
-- the span set and widens it. Returns the last session of the batch (none: done).
CREATE FUNCTION robot_brain.backfill_session_spans(p_tenant text, p_id text, p_batch integer)
RETURNS TABLE (tenant_id text, id text, filled integer)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_keys text[][];
  v_filled integer;
BEGIN
  SELECT array_agg(ARRAY[b.tenant_id, b.id] ORDER BY b.tenant_id, b.id) INTO v_keys
  FROM (
    SELECT s.tenant_id, s.id FROM robot_brain.sessions s
     WHERE (s.tenant_id, s.id) > (p_tenant, p_id)
     ORDER BY s.tenant_id, s.id LIMIT p_batch
       FOR UPDATE
  ) b;
  IF v_keys IS NULL THEN
    RETURN;
  END IF;
  UPDATE robot_brain.sessions s
     SET turns_from = m.lo, turns_to = m.hi
    FROM (
      SELECT k.t, k.i, (SELECT min(c.created_at) FROM robot_brain.conversations c
                         WHERE c.tenant_id = k.t AND c.session_id = k.i) AS lo,
                       (SELECT max(c.created_at) FROM robot_brain.conversations c
                         WHERE c.tenant_id = k.t AND c.session_id = k.i) AS hi
      FROM (SELECT v_keys[n][1] AS t, v_keys[n][2] AS i FROM generate_subscripts(v_keys, 1) AS n) k
    ) m
   WHERE s.tenant_id = m.t AND s.id = m.i AND s.turns_from IS NULL AND m.lo IS NOT NULL;
  GET DIAGNOSTICS v_filled = ROW_COUNT;
  tenant_id := v_keys[array_length(v_keys, 1)][1];
  id := v_keys[array_length(v_keys, 1)][2];
  filled := v_filled;
  RETURN NEXT;
END
$$;
REVOKE EXECUTE ON FUNCTION robot_brain.backfill_session_spans(text, text, integer) FROM PUBLIC;

SET LOCAL lock_timeout = '2s';
CREATE TRIGGER claim_turn_ids AFTER INSERT ON robot_brain.conversations
  REFERENCING NEW TABLE AS inserted_turns FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.conversations_claim_ids();
CREATE TRIGGER release_turn_ids AFTER DELETE ON robot_brain.conversations
  REFERENCING OLD TABLE AS deleted_turns FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.conversations_release_ids();
CREATE TRIGGER widen_session_spans AFTER INSERT ON robot_brain.conversations
  REFERENCING NEW TABLE AS inserted_turns FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.conversations_widen_spans();
