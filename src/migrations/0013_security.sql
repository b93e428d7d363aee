-- Security: a tamper-evident audit log, scoped API keys, and per-user erasure.
-- Valid on PostgreSQL 15 to 18. Runs in one transaction, as the owner (direct URL). Online: new
-- tables and functions, and one column with a constant default on the small api_keys table (no
-- rewrite); nothing reads the conversation tables.

-- The audit log: one hash chain per tenant. Each entry holds the SHA-256 of the previous entry of its
-- chain, so editing, removing or reordering an entry breaks the chain (robot-brain-db audit verify).
-- Why a chain per tenant rather than one global chain: the application role appends under row-level
-- security and can only read its own tenant's chain head (a global chain would need a SECURITY
-- DEFINER reader of every tenant's rows); tenants never wait for each other's appends; and one
-- tenant's log can be handed to that tenant and verified on its own. Events with no tenant
-- (authentication failures of unknown keys) go to the chain named '*', which no tenant id can be.
CREATE TABLE robot_brain.audit_log (
  tenant_id  text        NOT NULL CHECK (char_length(tenant_id) BETWEEN 1 AND 64),
  -- Position in the tenant's chain: 1, 2, 3, ... without gaps (assigned under the chain's lock).
  seq        bigint      NOT NULL CHECK (seq >= 1),
  id         uuid        NOT NULL UNIQUE,
  at         timestamptz NOT NULL,
  -- Who: 'key:<uuid>', 'anonymous', 'owner' (the command line on the direct URL), 'library', ...
  actor      text        NOT NULL CHECK (char_length(actor) BETWEEN 1 AND 200),
  -- What: 'key.create', 'key.revoke', 'scope.denied', 'session.delete', 'user.export', 'user.erase',
  -- 'auth.failed', ...; later 'archive', 'restore', 'encryption.*'.
  action     text        NOT NULL CHECK (char_length(action) BETWEEN 1 AND 100),
  target     text        NOT NULL DEFAULT '' CHECK (char_length(target) <= 300),
  -- Never content (no message text): ids, counts, scopes.
  details    jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(details) = 'object'),
  prev_hash  bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
  hash       bytea       NOT NULL CHECK (octet_length(hash) = 32),
  PRIMARY KEY (tenant_id, seq)
);
-- GET /v1/audit?from=&to=: a tenant's entries by time.
CREATE INDEX audit_log_at_idx ON robot_brain.audit_log (tenant_id, at, seq);

-- The canonical encoding an entry's hash is taken over (src/security/audit-hash.ts computes the same,
-- independently, to verify): a version line, then each field as "<bytes>:<value>\n", the length in
-- UTF-8 bytes first, so no value can pass for another field. `at` is in microseconds since the epoch,
-- `details` is PostgreSQL's text form of the jsonb value (normalized: key order, spacing).
CREATE FUNCTION robot_brain.audit_entry_hash(
  p_tenant text, p_seq bigint, p_id uuid, p_at timestamptz, p_actor text, p_action text,
  p_target text, p_details jsonb, p_prev bytea
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sha256(convert_to('rbdb-audit-v1' || E'\n' || string_agg(octet_length(convert_to(f, 'UTF8'))::text || ':' || f || E'\n', '' ORDER BY n), 'UTF8'))
  FROM unnest(ARRAY[
    p_tenant, p_seq::text, p_id::text, ((extract(epoch FROM p_at) * 1000000)::bigint)::text,
    p_actor, p_action, p_target, p_details::text, encode(p_prev, 'hex')
  ]) WITH ORDINALITY AS u(f, n)
$$;

-- Appends one entry to the tenant's chain, in the caller's transaction (so an audited change and its
-- entry commit together). Concurrent appends to one chain serialize on a transaction-scoped advisory
-- lock (works through a transaction-mode pooler); each statement of this VOLATILE function takes a new
-- snapshot, so after the lock the head read is the committed one: the chain cannot fork (and the
-- primary key would refuse a fork). Runs as the caller: the application role needs only SELECT and
-- INSERT on the table.
CREATE FUNCTION robot_brain.audit_append(
  p_tenant text, p_actor text, p_action text, p_target text, p_details jsonb
) RETURNS TABLE (entry_id uuid, entry_seq bigint, entry_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_seq  bigint;
  v_prev bytea;
  v_id   uuid := gen_random_uuid();
  v_at   timestamptz := clock_timestamp();
  v_details jsonb := coalesce(p_details, '{}'::jsonb);
  v_target text := coalesce(p_target, '');
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  PERFORM pg_advisory_xact_lock(hashtextextended('robot_brain.audit/' || p_tenant, 0));
  SELECT a.seq, a.hash INTO v_seq, v_prev FROM robot_brain.audit_log a
   WHERE a.tenant_id = p_tenant ORDER BY a.seq DESC LIMIT 1;
  v_seq := coalesce(v_seq, 0) + 1;
  v_prev := coalesce(v_prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
  INSERT INTO robot_brain.audit_log (tenant_id, seq, id, at, actor, action, target, details, prev_hash, hash)
  VALUES (p_tenant, v_seq, v_id, v_at, p_actor, p_action, v_target, v_details, v_prev,
          robot_brain.audit_entry_hash(p_tenant, v_seq, v_id, v_at, p_actor, p_action, v_target, v_details, v_prev));
  entry_id := v_id; entry_seq := v_seq; entry_at := v_at;
  RETURN NEXT;
END
$$;

-- Append-only for everyone: the application role has no UPDATE, DELETE or TRUNCATE privilege, and
-- these triggers refuse them for any role, the owner included. (An owner can still disable the
-- triggers, and a superuser can skip them with session_replication_role: that is what the hash chain
-- is for. `audit verify` finds what they changed.)
CREATE FUNCTION robot_brain.audit_log_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % is refused', TG_OP USING ERRCODE = '42501';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON robot_brain.audit_log
  FOR EACH ROW EXECUTE FUNCTION robot_brain.audit_log_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON robot_brain.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.audit_log_refuse();

ALTER TABLE robot_brain.audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.audit_log TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.audit_log TO CURRENT_USER USING (true) WITH CHECK (true);
REVOKE ALL ON robot_brain.audit_log FROM PUBLIC;
GRANT SELECT, INSERT ON robot_brain.audit_log TO robot_brain_app;
GRANT EXECUTE ON FUNCTION robot_brain.audit_append(text, text, text, text, jsonb),
  robot_brain.audit_entry_hash(text, bigint, uuid, timestamptz, text, text, text, jsonb, bytea)
  TO robot_brain_app;

-- Scoped keys: read (GET only), write (read and write; every key made before this version), admin
-- (also users, audit and keys).
ALTER TABLE robot_brain.api_keys
  ADD COLUMN scope text NOT NULL DEFAULT 'write' CHECK (scope IN ('read', 'write', 'admin'));

-- The request-time lookup, now with the key's id and scope, and whether any key was ever made: once
-- keys were used, revoking the last one must not quietly reopen anonymous access. (The 0002 function
-- stays for servers of the previous version during a rolling deploy.)
CREATE FUNCTION robot_brain.authenticate_key(p_hash bytea)
RETURNS TABLE (keys_exist boolean, keys_ever boolean, tenant text, key_id uuid, scope text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_id     uuid;
  v_tenant text;
  v_scope  text;
  v_used   timestamptz;
BEGIN
  IF p_hash IS NOT NULL THEN
    SELECT k.id, k.tenant_id, k.scope, k.last_used_at INTO v_id, v_tenant, v_scope, v_used
      FROM robot_brain.api_keys k
     WHERE k.key_hash = p_hash AND k.revoked_at IS NULL;
    IF v_id IS NOT NULL AND (v_used IS NULL OR v_used < now() - interval '1 minute') THEN
      UPDATE robot_brain.api_keys k SET last_used_at = now()
       WHERE k.id = v_id AND (k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute');
    END IF;
  END IF;
  RETURN QUERY
    SELECT v_tenant IS NOT NULL
           OR EXISTS (SELECT FROM robot_brain.api_keys k WHERE k.revoked_at IS NULL),
           EXISTS (SELECT FROM robot_brain.api_keys k),
           v_tenant, v_id, v_scope;
END
$$;
REVOKE EXECUTE ON FUNCTION robot_brain.authenticate_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION robot_brain.authenticate_key(bytea) TO robot_brain_app;

-- Deleting a session and recording it in the audit log, in one transaction.
CREATE FUNCTION robot_brain.delete_session_audited(p_tenant text, p_session text, p_actor text)
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_turns integer;
BEGIN
  v_turns := robot_brain.delete_session(p_tenant, p_session);
  IF v_turns IS NOT NULL THEN
    PERFORM robot_brain.audit_append(p_tenant, p_actor, 'session.delete', 'session:' || p_session,
                                     jsonb_build_object('turns', v_turns));
  END IF;
  RETURN v_turns;
END
$$;

-- Erases a user of a tenant: every session of the user and, by the cascade, their turns; the turns'
-- triggers take their embeddings, queued embeddings and rollup contributions with them. Records the
-- erasure (counts only, no content) in the same transaction. Erasing again erases nothing more.
CREATE FUNCTION robot_brain.erase_user(p_tenant text, p_user text, p_actor text)
RETURNS TABLE (sessions integer, turns bigint, audit_id uuid)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_sessions integer;
  v_turns    bigint;
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  -- Sessions in key order, as the write path locks them: no deadlock with concurrent writers.
  WITH doomed AS (
    SELECT s.id, s.message_count FROM robot_brain.sessions s
     WHERE s.tenant_id = p_tenant AND s.user_id = p_user
     ORDER BY s.id FOR UPDATE
  ), gone AS (
    DELETE FROM robot_brain.sessions s USING doomed d
     WHERE s.tenant_id = p_tenant AND s.id = d.id
    RETURNING d.message_count
  )
  SELECT count(*)::integer, coalesce(sum(message_count), 0) INTO v_sessions, v_turns FROM gone;
  sessions := v_sessions;
  turns := v_turns;
  SELECT a.entry_id INTO audit_id FROM robot_brain.audit_append(
    p_tenant, p_actor, 'user.erase', 'user:' || p_user,
    jsonb_build_object('sessions', v_sessions, 'turns', v_turns)) a;
  RETURN NEXT;
END
$$;
GRANT EXECUTE ON FUNCTION robot_brain.delete_session_audited(text, text, text),
  robot_brain.erase_user(text, text, text) TO robot_brain_app;
