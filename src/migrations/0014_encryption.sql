-- Column-level encryption per tenant: an encrypted tenant's user messages, robot responses and session
-- userMetadata are stored as AES-256-GCM ciphertext made by the application (src/security/encryption/),
-- with a data key per tenant wrapped by a master key the database never sees.
-- Valid on PostgreSQL 15 to 18. Runs in one transaction, as the owner (direct URL). Online: two new
-- tables, functions and triggers, and the two length checks of conversations replaced by checks NOT
-- VALID (catalog changes under a short lock_timeout: no scan, no rewrite). Existing turns are encrypted
-- later, per tenant, by `robot-brain-db encryption enable` in committed batches.
--
-- Why ciphertext goes in the existing text columns (and userMetadata stays a jsonb object) rather than
-- new bytea columns: every path that moves rows (history, export, archive to Parquet, restore, import,
-- users export and erase) keeps working on the same columns, an archive holds exactly what the table
-- held (so shredding the key also makes old archives unreadable), and no partition is rewritten.
-- The text form is `rbenc1:<key version>:<base64url of iv | ciphertext | tag>`; see format.ts.

-- A tenant's encryption: on (new content is sealed with data key key_version) or shredded (every data
-- key destroyed: content unreadable, new content refused until enable makes a new key).
-- semantic_search: the tenant chose to let embeddings be computed from its plain text (they leak meaning).
-- job: the re-encryption running (enable or rotate), with its last key, so an interrupted run resumes.
CREATE TABLE robot_brain.tenant_encryption (
  tenant_id       text        PRIMARY KEY CHECK (char_length(tenant_id) BETWEEN 1 AND 64),
  state           text        NOT NULL CHECK (state IN ('on', 'shredded')),
  key_version     integer     CHECK (key_version >= 1),
  semantic_search boolean     NOT NULL DEFAULT false,
  job             jsonb,
  enabled_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  CHECK ((state = 'on') = (key_version IS NOT NULL))
);

-- The tenant's data keys, each wrapped (AES-256-GCM) by the master key master_key_id. active: the one
-- new content is sealed with; retired: still opens rows not yet re-encrypted; destroyed: the wrapped key
-- is gone (shred, or a rotation that finished), and so is every way to read what it sealed.
CREATE TABLE robot_brain.tenant_data_keys (
  tenant_id     text        NOT NULL CHECK (char_length(tenant_id) BETWEEN 1 AND 64),
  version       integer     NOT NULL CHECK (version >= 1),
  master_key_id text        NOT NULL CHECK (char_length(master_key_id) BETWEEN 1 AND 64),
  wrapped_key   bytea       CHECK (octet_length(wrapped_key) = 60),
  state         text        NOT NULL CHECK (state IN ('active', 'retired', 'destroyed')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  destroyed_at  timestamptz,
  PRIMARY KEY (tenant_id, version),
  CHECK ((state = 'destroyed') = (wrapped_key IS NULL))
);
CREATE UNIQUE INDEX tenant_data_keys_one_active ON robot_brain.tenant_data_keys (tenant_id) WHERE state = 'active';

ALTER TABLE robot_brain.tenant_encryption ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.tenant_encryption FORCE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.tenant_data_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.tenant_data_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.tenant_encryption TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY tenant_isolation ON robot_brain.tenant_data_keys TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.tenant_encryption TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_maintenance ON robot_brain.tenant_data_keys TO CURRENT_USER USING (true) WITH CHECK (true);
REVOKE ALL ON robot_brain.tenant_encryption, robot_brain.tenant_data_keys FROM PUBLIC;
-- No DELETE: a key is destroyed by clearing wrapped_key, so the record of it (and of the shred) stays.
GRANT SELECT, INSERT, UPDATE ON robot_brain.tenant_encryption, robot_brain.tenant_data_keys TO robot_brain_app;

-- Whether p_text is ciphertext sealed with data key p_version (format.ts). Inlined where used.
CREATE FUNCTION robot_brain.sealed_with(p_text text, p_version integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT left(p_text, 7) = 'rbenc1:' AND split_part(p_text, ':', 2) = p_version::text
$$;

-- Whether a userMetadata object is sealed with p_version: {"$sealed": "rbenc1:<version>:..."} alone.
CREATE FUNCTION robot_brain.sealed_metadata_with(p_meta jsonb, p_version integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT jsonb_typeof(p_meta -> '$sealed') = 'string' AND p_meta - '$sealed' = '{}'::jsonb
     AND robot_brain.sealed_with(p_meta ->> '$sealed', p_version)
$$;

-- The data key version a tenant's new content must be sealed with: 0 plain (not encrypted), -1 shredded.
-- Takes the tenant's encryption lock shared, for the writer's whole transaction: enable, rotate and
-- shred change the version under the same lock exclusive, so they wait for every writer that saw the
-- old version to commit, and a writer after them sees the new one (this VOLATILE function's SELECT takes
-- a snapshot of its own, after the lock). So once a change commits, no content of the old kind can
-- arrive any more, and the re-encryption that follows finds every row it must change.
CREATE FUNCTION robot_brain.encryption_admit(p_tenant text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_state   text;
  v_version integer;
BEGIN
  PERFORM pg_advisory_xact_lock_shared(hashtextextended('robot_brain.encryption/' || p_tenant, 0));
  SELECT e.state, e.key_version INTO v_state, v_version
    FROM robot_brain.tenant_encryption e WHERE e.tenant_id = p_tenant;
  RETURN CASE WHEN v_state IS NULL THEN 0 WHEN v_state = 'shredded' THEN -1 ELSE v_version END;
END
$$;

-- The exclusive side of that lock, for enable, rotate and shred (in their flipping transaction).
CREATE FUNCTION robot_brain.encryption_lock(p_tenant text) RETURNS void
LANGUAGE sql VOLATILE AS $$
  SELECT pg_advisory_xact_lock(hashtextextended('robot_brain.encryption/' || p_tenant, 0))
$$;

-- The database's own guard, whatever path writes (the store, import, restore, a stale process): in an
-- encrypted tenant every new or changed text must be ciphertext of the current data key; plain text is
-- refused with SQLSTATE RB4E1 (the store then reloads the tenant's keys and seals again), and any
-- content of a shredded tenant with RB4E2. Set-based, once per statement; for a tenant without
-- encryption it costs a lock and one primary-key probe per statement.
CREATE FUNCTION robot_brain.conversations_admit_content() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_tenant  text;
  v_version integer;
  v_id      uuid;
BEGIN
  FOR v_tenant IN SELECT DISTINCT n.tenant_id FROM new_turns n LOOP
    v_version := robot_brain.encryption_admit(v_tenant);
    CONTINUE WHEN v_version = 0;
    IF TG_OP = 'INSERT' THEN
      SELECT n.id INTO v_id FROM new_turns n
       WHERE n.tenant_id = v_tenant
         AND (v_version < 0 OR NOT robot_brain.sealed_with(n.user_message, v_version)
              OR (n.robot_response IS NOT NULL AND NOT robot_brain.sealed_with(n.robot_response, v_version)))
       LIMIT 1;
    ELSE
      -- An update must seal what it changes; unchanged text may still be of an older key (a rotation
      -- re-encrypts it later).
      SELECT n.id INTO v_id FROM new_turns n
        JOIN old_turns o ON o.tenant_id = n.tenant_id AND o.id = n.id AND o.created_at = n.created_at
       WHERE n.tenant_id = v_tenant
         AND ((n.user_message IS DISTINCT FROM o.user_message
               AND (v_version < 0 OR NOT robot_brain.sealed_with(n.user_message, v_version)))
           OR (n.robot_response IS DISTINCT FROM o.robot_response AND n.robot_response IS NOT NULL
               AND (v_version < 0 OR NOT robot_brain.sealed_with(n.robot_response, v_version))))
       LIMIT 1;
    END IF;
    IF FOUND THEN
      IF v_version < 0 THEN
        RAISE EXCEPTION 'tenant % was crypto-shredded: its content cannot be written (turn %)', v_tenant, v_id
          USING ERRCODE = 'RB4E2', HINT = 'robot-brain-db encryption enable --tenant makes a new data key';
      END IF;
      RAISE EXCEPTION 'tenant % is encrypted with data key %: turn % carries text not sealed with it', v_tenant, v_version, v_id
        USING ERRCODE = 'RB4E1';
    END IF;
  END LOOP;
  RETURN NULL;
END
$$;

-- The same for session userMetadata, per row: only writes that set a non-empty userMetadata call it
-- (the turn write path upserts sessions without touching it).
CREATE FUNCTION robot_brain.sessions_admit_metadata() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_version integer;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.user_metadata IS NOT DISTINCT FROM OLD.user_metadata THEN
    RETURN NEW;
  END IF;
  v_version := robot_brain.encryption_admit(NEW.tenant_id);
  IF v_version = 0 OR NEW.user_metadata = '{}'::jsonb THEN
    RETURN NEW;
  END IF;
  IF v_version < 0 THEN
    RAISE EXCEPTION 'tenant % was crypto-shredded: userMetadata of session % cannot be written', NEW.tenant_id, NEW.id
      USING ERRCODE = 'RB4E2', HINT = 'robot-brain-db encryption enable --tenant makes a new data key';
  END IF;
  IF NOT robot_brain.sealed_metadata_with(NEW.user_metadata, v_version) THEN
    RAISE EXCEPTION 'tenant % is encrypted with data key %: userMetadata of session % is not sealed with it', NEW.tenant_id, v_version, NEW.id
      USING ERRCODE = 'RB4E1';
  END IF;
  RETURN NEW;
END
$$;

-- No tsvector from ciphertext: the database never sees an encrypted tenant's words, so its full-text
-- search has nothing to index (search answers that with an error). Re-sealing a row (enable, rotate:
-- they set robot_brain.resealing) changes its text but not its words: its vectors stay.
CREATE OR REPLACE FUNCTION robot_brain.conversations_fill_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF left(NEW.user_message, 7) = 'rbenc1:' OR left(NEW.robot_response, 7) = 'rbenc1:' THEN
    NEW.search_vector := NULL;
  ELSE
    NEW.search_vector := robot_brain.turn_search_vector(NEW.user_message, NEW.robot_response);
  END IF;
  IF TG_OP = 'UPDATE' AND (NEW.user_message IS DISTINCT FROM OLD.user_message
                           OR NEW.robot_response IS DISTINCT FROM OLD.robot_response)
     AND coalesce(current_setting('robot_brain.resealing', true), '') <> 'on' THEN
    DELETE FROM robot_brain.embeddings e WHERE e.tenant_id = OLD.tenant_id AND e.turn_id = OLD.id;
    INSERT INTO robot_brain.embedding_queue (tenant_id, turn_id, created_at)
    VALUES (NEW.tenant_id, NEW.id, NEW.created_at)
    ON CONFLICT (tenant_id, turn_id) DO UPDATE SET next_attempt_at = now(), attempts = 0;
  END IF;
  RETURN NEW;
END
$$;

GRANT EXECUTE ON FUNCTION robot_brain.sealed_with(text, integer), robot_brain.sealed_metadata_with(jsonb, integer),
  robot_brain.encryption_admit(text), robot_brain.encryption_lock(text) TO robot_brain_app;

SET LOCAL lock_timeout = '2s';
-- Ciphertext is longer than its text (base64 of up to 4 bytes a character, plus 28 bytes of iv and
-- tag): plain text keeps its limit of 100000 characters, sealed text may take 540000. NOT VALID: the
-- new checks are looser than the old ones, which every stored row passed, so nothing is scanned.
ALTER TABLE robot_brain.conversations DROP CONSTRAINT conversations_user_message_check;
ALTER TABLE robot_brain.conversations ADD CONSTRAINT conversations_user_message_check
  CHECK (char_length(user_message) <= 100000
         OR (left(user_message, 7) = 'rbenc1:' AND char_length(user_message) <= 540000)) NOT VALID;
ALTER TABLE robot_brain.conversations DROP CONSTRAINT conversations_robot_response_check;
ALTER TABLE robot_brain.conversations ADD CONSTRAINT conversations_robot_response_check
  CHECK (char_length(robot_response) <= 100000
         OR (left(robot_response, 7) = 'rbenc1:' AND char_length(robot_response) <= 540000)) NOT VALID;
CREATE TRIGGER admit_content_insert AFTER INSERT ON robot_brain.conversations
  REFERENCING NEW TABLE AS new_turns FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.conversations_admit_content();
CREATE TRIGGER admit_content_update AFTER UPDATE ON robot_brain.conversations
  REFERENCING OLD TABLE AS old_turns NEW TABLE AS new_turns
  FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.conversations_admit_content();
CREATE TRIGGER admit_metadata_insert BEFORE INSERT ON robot_brain.sessions
  FOR EACH ROW WHEN (NEW.user_metadata <> '{}'::jsonb) EXECUTE FUNCTION robot_brain.sessions_admit_metadata();
CREATE TRIGGER admit_metadata_update BEFORE UPDATE OF user_metadata ON robot_brain.sessions
  FOR EACH ROW EXECUTE FUNCTION robot_brain.sessions_admit_metadata();

-- Replaces a session's userMetadata when it still holds p_old. An encrypted tenant's metadata is merged
-- in the application (the database cannot merge ciphertext), so the write is a compare-and-set: after a
-- concurrent change it returns no row and the store merges again. A function, so the tenant context is
-- set before the row is read (see delete_session in 0001).
CREATE FUNCTION robot_brain.replace_session_metadata(p_tenant text, p_session text, p_old jsonb, p_new jsonb)
RETURNS SETOF robot_brain.sessions
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  RETURN QUERY
    UPDATE robot_brain.sessions s SET user_metadata = p_new
     WHERE s.tenant_id = p_tenant AND s.id = p_session AND s.user_metadata = p_old
    RETURNING s.*;
END
$$;
GRANT EXECUTE ON FUNCTION robot_brain.replace_session_metadata(text, text, jsonb, jsonb) TO robot_brain_app;
