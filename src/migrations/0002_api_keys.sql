-- API keys of the HTTP service: each key acts for one tenant.
-- Only a SHA-256 hash of each key is stored (the key itself is shown once, when created).
-- The table is not tenant-scoped: a request's key is looked up before its tenant is known.
-- So the application role gets no privilege on the table at all; it may only call
-- robot_brain.authenticate_api_key(), a SECURITY DEFINER function that answers for one hash.
-- Keys are created, listed and revoked by the owner (direct URL), from the command line.

CREATE TABLE robot_brain.api_keys (
  id           uuid        PRIMARY KEY,
  tenant_id    text        NOT NULL CHECK (char_length(tenant_id) BETWEEN 1 AND 64),
  name         text        NOT NULL DEFAULT '' CHECK (char_length(name) <= 100),
  key_hash     bytea       NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
  -- The first characters of the key, to recognise it in listings; too short to guess the rest.
  key_prefix   text        NOT NULL CHECK (char_length(key_prefix) <= 16),
  created_at   timestamptz NOT NULL DEFAULT now(),
  revoked_at   timestamptz,
  last_used_at timestamptz
);
-- "Are there any active keys?" is asked on every unauthenticated request.
CREATE INDEX api_keys_active_idx ON robot_brain.api_keys (created_at) WHERE revoked_at IS NULL;

REVOKE ALL ON robot_brain.api_keys FROM PUBLIC;

-- One round trip per request: whether any active key exists (so the server knows if anonymous
-- requests are allowed), and the tenant of the key with this hash (NULL when unknown or revoked).
-- last_used_at is written at most once a minute per key, so busy keys do not turn every read
-- into a write.
CREATE FUNCTION robot_brain.authenticate_api_key(p_hash bytea)
RETURNS TABLE (keys_exist boolean, tenant text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_id     uuid;
  v_tenant text;
  v_used   timestamptz;
BEGIN
  IF p_hash IS NOT NULL THEN
    SELECT k.id, k.tenant_id, k.last_used_at INTO v_id, v_tenant, v_used
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
           v_tenant;
END
$$;

REVOKE EXECUTE ON FUNCTION robot_brain.authenticate_api_key(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION robot_brain.authenticate_api_key(bytea) TO robot_brain_app;
