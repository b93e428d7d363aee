-- Schema v1: sessions, monthly-partitioned conversations and robot_interactions,
-- tenant isolation by forced row-level security, session statistics.
-- Valid on PostgreSQL 15 to 18. Runs in one transaction, as the owner (direct URL).

CREATE SCHEMA IF NOT EXISTS robot_brain;

-- The runtime role: the application's queries run as it (a member login role, or SET ROLE).
-- NOBYPASSRLS and not the owner, so every policy below applies. Roles are cluster-wide and
-- another database may create it at the same moment: tolerate the race.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'robot_brain_app') THEN
    CREATE ROLE robot_brain_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;

-- A non-superuser owner (Neon's neondb_owner) must be able to SET ROLE to the runtime role.
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, 'robot_brain_app', 'MEMBER') THEN
    EXECUTE format('GRANT robot_brain_app TO %I', current_user);
  END IF;
END
$$;

GRANT USAGE ON SCHEMA robot_brain TO robot_brain_app;

-- Per-transaction tenant context. Every application statement calls it first, in the same
-- statement, so the context costs no round trip and survives transaction pooling.
CREATE FUNCTION robot_brain.use_tenant(p_tenant text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF p_tenant IS NULL OR p_tenant = '' THEN
    RAISE EXCEPTION 'tenant id is required' USING ERRCODE = '22023';
  END IF;
  PERFORM set_config('app.tenant_id', p_tenant, true);
  RETURN p_tenant;
END
$$;

-- The tenant the current transaction acts for; NULL when none was set (then no row matches).
CREATE FUNCTION robot_brain.current_tenant() RETURNS text
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.tenant_id', true), '') $$;

CREATE TABLE robot_brain.sessions (
  tenant_id     text        NOT NULL CHECK (char_length(tenant_id) BETWEEN 1 AND 64),
  id            text        NOT NULL CHECK (char_length(id) BETWEEN 1 AND 100),
  user_metadata jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(user_metadata) = 'object'),
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_active   timestamptz NOT NULL DEFAULT now(),
  message_count integer     NOT NULL DEFAULT 0 CHECK (message_count >= 0),
  PRIMARY KEY (tenant_id, id)
);
-- listSessions: most recently active first, keyset on (last_active, id).
CREATE INDEX sessions_recent_idx ON robot_brain.sessions (tenant_id, last_active DESC, id DESC);

-- Turns. The primary key holds the partition key; ids are UUIDv7 made by the application,
-- and created_at defaults to the id's timestamp, so a retried turn lands on the same key.
CREATE TABLE robot_brain.conversations (
  tenant_id         text        NOT NULL,
  id                uuid        NOT NULL,
  session_id        text        NOT NULL,
  robot_personality text        NOT NULL CHECK (char_length(robot_personality) BETWEEN 1 AND 50),
  user_message      text        NOT NULL CHECK (char_length(user_message) <= 100000),
  robot_response    text        NOT NULL CHECK (char_length(robot_response) <= 100000),
  metadata          jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  created_at        timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id, created_at),
  FOREIGN KEY (tenant_id, session_id) REFERENCES robot_brain.sessions (tenant_id, id) ON DELETE CASCADE
) PARTITION BY RANGE (created_at);
-- history: the last N turns of a session, newest first, keyset on (created_at, id).
CREATE INDEX conversations_history_idx
  ON robot_brain.conversations (tenant_id, session_id, created_at DESC, id DESC);
-- metadata containment filters (metadata @> '{"channel": "web"}').
CREATE INDEX conversations_metadata_idx ON robot_brain.conversations USING gin (metadata jsonb_path_ops);
CREATE TABLE robot_brain.conversations_default PARTITION OF robot_brain.conversations DEFAULT;

CREATE TABLE robot_brain.robot_interactions (
  tenant_id        text        NOT NULL,
  id               uuid        NOT NULL,
  robot_id         text        NOT NULL CHECK (char_length(robot_id) BETWEEN 1 AND 50),
  interaction_type text        NOT NULL CHECK (char_length(interaction_type) BETWEEN 1 AND 50),
  duration_ms      integer     NOT NULL CHECK (duration_ms >= 0),
  success          boolean     NOT NULL,
  metadata         jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
  created_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id, created_at)
) PARTITION BY RANGE (created_at);
-- analytics by robot over a time range.
CREATE INDEX robot_interactions_robot_idx ON robot_brain.robot_interactions (tenant_id, robot_id, created_at);
-- failures are few and looked at often.
CREATE INDEX robot_interactions_failed_idx
  ON robot_brain.robot_interactions (tenant_id, created_at) WHERE NOT success;
CREATE TABLE robot_brain.robot_interactions_default PARTITION OF robot_brain.robot_interactions DEFAULT;

-- One month's partition of conversations or robot_interactions. Rows that already landed in the
-- default partition for that month are moved into it, so creating a partition late never fails.
CREATE FUNCTION robot_brain.ensure_month_partition(p_parent text, p_month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  v_from timestamptz := date_trunc('month', p_month::timestamp) AT TIME ZONE 'UTC';
  v_to   timestamptz := (date_trunc('month', p_month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
  v_name text := p_parent || '_p' || to_char(p_month, 'YYYY_MM');
  v_default text := p_parent || '_default';
  v_waiting boolean;
BEGIN
  IF p_parent NOT IN ('conversations', 'robot_interactions') THEN
    RAISE EXCEPTION 'not a partitioned table of robot_brain: %', p_parent USING ERRCODE = '22023';
  END IF;
  IF to_regclass(format('robot_brain.%I', v_name)) IS NOT NULL THEN
    RETURN false;
  END IF;
  EXECUTE format('SELECT EXISTS (SELECT FROM robot_brain.%I WHERE created_at >= $1 AND created_at < $2)', v_default)
    INTO v_waiting USING v_from, v_to;
  IF NOT v_waiting THEN
    EXECUTE format('CREATE TABLE robot_brain.%I PARTITION OF robot_brain.%I FOR VALUES FROM (%L) TO (%L)',
                   v_name, p_parent, v_from, v_to);
  ELSE
    EXECUTE format('CREATE TABLE robot_brain.%I (LIKE robot_brain.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   v_name, p_parent);
    EXECUTE format('WITH moved AS (DELETE FROM robot_brain.%I WHERE created_at >= $1 AND created_at < $2 RETURNING *)
                    INSERT INTO robot_brain.%I SELECT * FROM moved', v_default, v_name) USING v_from, v_to;
    EXECUTE format('ALTER TABLE robot_brain.%I ATTACH PARTITION robot_brain.%I FOR VALUES FROM (%L) TO (%L)',
                   p_parent, v_name, v_from, v_to);
  END IF;
  RETURN true;
END
$$;

-- Partitions for this month and the next p_months_ahead, for both partitioned tables.
CREATE FUNCTION robot_brain.ensure_partitions(p_months_ahead integer DEFAULT 3) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  v_created integer := 0;
  v_month date;
BEGIN
  FOR i IN 0 .. p_months_ahead LOOP
    v_month := (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i))::date;
    IF robot_brain.ensure_month_partition('conversations', v_month) THEN v_created := v_created + 1; END IF;
    IF robot_brain.ensure_month_partition('robot_interactions', v_month) THEN v_created := v_created + 1; END IF;
  END LOOP;
  RETURN v_created;
END
$$;

SELECT robot_brain.ensure_partitions(3);

-- Row-level security, forced (the owner is subject too). The application role sees only the rows
-- of the tenant its transaction set; with no tenant set it sees nothing. The owner, which runs
-- migrations and maintenance on the direct URL, keeps a policy of its own.
ALTER TABLE robot_brain.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.sessions FORCE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.conversations ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.conversations FORCE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.robot_interactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.robot_interactions FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON robot_brain.sessions TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY tenant_isolation ON robot_brain.conversations TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY tenant_isolation ON robot_brain.robot_interactions TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());

CREATE POLICY owner_maintenance ON robot_brain.sessions TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_maintenance ON robot_brain.conversations TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_maintenance ON robot_brain.robot_interactions TO CURRENT_USER USING (true) WITH CHECK (true);

GRANT SELECT, INSERT, UPDATE, DELETE ON robot_brain.sessions, robot_brain.conversations,
  robot_brain.robot_interactions TO robot_brain_app;
GRANT EXECUTE ON FUNCTION robot_brain.use_tenant(text), robot_brain.current_tenant() TO robot_brain_app;
REVOKE EXECUTE ON FUNCTION robot_brain.ensure_month_partition(text, date), robot_brain.ensure_partitions(integer)
  FROM PUBLIC;

-- Session statistics, refreshed by maintenance. A materialized view cannot carry row-level
-- security, so the application reads it through a security-barrier view filtered by tenant.
-- The unique index lets REFRESH MATERIALIZED VIEW CONCURRENTLY run without blocking readers.
CREATE MATERIALIZED VIEW robot_brain.session_stats AS
SELECT tenant_id,
       session_id,
       count(*)::integer                      AS message_count,
       min(created_at)                        AS first_message,
       max(created_at)                        AS last_message,
       avg(char_length(robot_response))::float8 AS avg_response_length,
       avg(char_length(user_message))::float8   AS avg_user_message_length
FROM robot_brain.conversations
GROUP BY tenant_id, session_id;
CREATE UNIQUE INDEX session_stats_key ON robot_brain.session_stats (tenant_id, session_id);

CREATE VIEW robot_brain.tenant_session_stats WITH (security_barrier) AS
SELECT * FROM robot_brain.session_stats WHERE tenant_id = robot_brain.current_tenant();
GRANT SELECT ON robot_brain.tenant_session_stats TO robot_brain_app;

-- Two mutations whose statement cannot be shaped so the tenant context is set before the
-- target table is read: functions run their statements in order, as the caller (invoker).
CREATE FUNCTION robot_brain.delete_session(p_tenant text, p_session text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_turns integer;
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  SELECT message_count INTO v_turns FROM robot_brain.sessions
   WHERE tenant_id = p_tenant AND id = p_session FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  DELETE FROM robot_brain.sessions WHERE tenant_id = p_tenant AND id = p_session;
  RETURN v_turns;
END
$$;

CREATE FUNCTION robot_brain.merge_session_metadata(p_tenant text, p_session text, p_patch jsonb)
RETURNS SETOF robot_brain.sessions
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM robot_brain.use_tenant(p_tenant);
  RETURN QUERY
    UPDATE robot_brain.sessions s SET user_metadata = s.user_metadata || p_patch
     WHERE s.tenant_id = p_tenant AND s.id = p_session
    RETURNING s.*;
END
$$;
GRANT EXECUTE ON FUNCTION robot_brain.delete_session(text, text),
  robot_brain.merge_session_metadata(text, text, jsonb) TO robot_brain_app;

-- readiness checks read the migration history as the application role.
GRANT SELECT ON robot_brain.schema_migrations TO robot_brain_app;
