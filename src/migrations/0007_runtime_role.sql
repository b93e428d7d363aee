-- One runtime role per database. Roles are cluster-wide: before this migration every Robot Brain
-- database on a server granted its tables and policies to the one role robot_brain_app, so a login
-- made for one database could connect to another and read every tenant there.
--
-- From now on each database has a role of its own (robot_brain_app_<database> by default, or the
-- configured ROBOT_BRAIN_APP_ROLE). Migration files keep granting to robot_brain_app, which now
-- only stands for "the runtime role": after every migrate the runner calls adopt_runtime_role
-- below, which hands whatever robot_brain_app (or the role this database used before, e.g. the one
-- of the database it was copied from) holds in this database over to the database's own role, and
-- lets only that role connect. robot_brain_app itself ends up holding nothing here.

-- The role this database's privileges and policies are given to. Databases migrated before this
-- version used the shared robot_brain_app.
CREATE TABLE robot_brain.runtime_role (
  singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  role_name  text        NOT NULL,
  adopted_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO robot_brain.runtime_role (role_name) VALUES ('robot_brain_app');

-- Makes p_role this database's runtime role, idempotently: creates it (NOLOGIN, no privilege that
-- skips row-level security), moves to it every privilege and policy that the shared role or the
-- previous runtime role holds on the robot_brain schema, and, when the caller owns the database,
-- revokes CONNECT from PUBLIC and grants it to p_role only. Returns the roles it moved from.
CREATE FUNCTION robot_brain.adopt_runtime_role(p_role text) RETURNS text[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_role_oid oid;
  v_from text[];
  v_old text;
  v_old_oid oid;
  v_can_revoke boolean;
  r record;
BEGIN
  IF p_role IS NULL OR p_role !~ '^[a-z_][a-z0-9_]{0,62}$' OR p_role LIKE 'pg\_%' THEN
    RAISE EXCEPTION 'runtime role must be a lower-case SQL identifier not starting with pg_, got %', p_role
      USING ERRCODE = '22023';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = p_role) THEN
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', p_role);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another process created it at the same moment
    END;
  END IF;
  SELECT oid INTO v_role_oid FROM pg_roles WHERE rolname = p_role;
  IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE oid = v_role_oid) THEN
    RAISE EXCEPTION 'runtime role % is a superuser or has BYPASSRLS: row-level security would not apply to it', p_role
      USING ERRCODE = '22023';
  END IF;
  -- A non-superuser owner (Neon's neondb_owner) must be able to SET ROLE to it.
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
     AND NOT pg_has_role(current_user, v_role_oid, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', p_role, current_user);
  END IF;

  -- The shared role and the previous one, where they hold anything in this database (pg_shdepend
  -- records every privilege and policy of a role, per database; CONNECT on the database itself too).
  v_from := ARRAY(
    SELECT DISTINCT x.name FROM unnest(ARRAY['robot_brain_app', (SELECT role_name FROM robot_brain.runtime_role)]) x(name)
    JOIN pg_roles g ON g.rolname = x.name
    WHERE x.name <> p_role
      AND EXISTS (SELECT FROM pg_shdepend s, pg_database d
                  WHERE d.datname = current_database() AND s.refobjid = g.oid
                    AND s.refclassid = 'pg_authid'::regclass
                    AND (s.dbid = d.oid OR (s.dbid = 0 AND s.classid = 'pg_database'::regclass AND s.objid = d.oid))));
  FOREACH v_old IN ARRAY v_from LOOP
    SELECT oid INTO v_old_oid FROM pg_roles WHERE rolname = v_old;
    -- The schema.
    FOR r IN SELECT a.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) a
             WHERE n.nspname = 'robot_brain' AND a.grantee = v_old_oid LOOP
      EXECUTE format('GRANT %s ON SCHEMA robot_brain TO %I', r.privilege_type, p_role);
    END LOOP;
    EXECUTE format('REVOKE ALL ON SCHEMA robot_brain FROM %I', v_old);
    -- Tables, views, materialized views, sequences.
    FOR r IN SELECT c.oid::regclass AS rel, c.relkind, a.privilege_type
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
             WHERE n.nspname = 'robot_brain' AND a.grantee = v_old_oid LOOP
      EXECUTE format('GRANT %s ON %s %s TO %I', r.privilege_type,
                     CASE WHEN r.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.rel, p_role);
      EXECUTE format('REVOKE ALL ON %s %s FROM %I',
                     CASE WHEN r.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.rel, v_old);
    END LOOP;
    -- Columns.
    FOR r IN SELECT c.oid::regclass AS rel, at.attname, a.privilege_type
             FROM pg_attribute at JOIN pg_class c ON c.oid = at.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(at.attacl) a
             WHERE n.nspname = 'robot_brain' AND a.grantee = v_old_oid LOOP
      EXECUTE format('GRANT %s (%I) ON TABLE %s TO %I', r.privilege_type, r.attname, r.rel, p_role);
      EXECUTE format('REVOKE %s (%I) ON TABLE %s FROM %I', r.privilege_type, r.attname, r.rel, v_old);
    END LOOP;
    -- Functions and procedures.
    FOR r IN SELECT p.oid::regprocedure AS fn, a.privilege_type
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, aclexplode(p.proacl) a
             WHERE n.nspname = 'robot_brain' AND a.grantee = v_old_oid LOOP
      EXECUTE format('GRANT %s ON ROUTINE %s TO %I', r.privilege_type, r.fn, p_role);
      EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %I', r.fn, v_old);
    END LOOP;
    -- Row-level security policies: the old role's place in each role list goes to p_role.
    FOR r IN SELECT pol.polname, pol.polrelid::regclass AS rel,
                    (SELECT string_agg(DISTINCT CASE WHEN x = 0 THEN 'PUBLIC'
                                                     WHEN x = v_old_oid THEN quote_ident(p_role)
                                                     ELSE quote_ident(g.rolname) END, ', ')
                     FROM unnest(pol.polroles) x LEFT JOIN pg_roles g ON g.oid = x) AS roles
             FROM pg_policy pol JOIN pg_class c ON c.oid = pol.polrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'robot_brain' AND v_old_oid = ANY (pol.polroles) LOOP
      EXECUTE format('ALTER POLICY %I ON %s TO %s', r.polname, r.rel, r.roles);
    END LOOP;
  END LOOP;

  -- Only this database's role (and its owners) may connect. GRANT/REVOKE on a database need its
  -- owner: a migrating role that does not own it leaves CONNECT as it is (doctor says so).
  v_can_revoke := (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    OR pg_has_role(current_user, (SELECT datdba FROM pg_database WHERE datname = current_database()), 'USAGE');
  -- Only when something changes: GRANT rewrites the database's catalog row even when it grants nothing new.
  IF v_can_revoke AND (has_database_privilege('public', current_database(), 'CONNECT')
                       OR NOT has_database_privilege(v_role_oid, current_database(), 'CONNECT')
                       OR cardinality(v_from) > 0) THEN
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), p_role);
    FOREACH v_old IN ARRAY v_from LOOP
      EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), v_old);
    END LOOP;
    -- The schema's owner keeps connecting (it may be neither a superuser nor the database's owner).
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(),
                   (SELECT o.rolname FROM pg_namespace n JOIN pg_roles o ON o.oid = n.nspowner
                    WHERE n.nspname = 'robot_brain'));
  END IF;

  UPDATE robot_brain.runtime_role SET role_name = p_role, adopted_at = now() WHERE role_name <> p_role;
  RETURN v_from;
END
$$;
REVOKE EXECUTE ON FUNCTION robot_brain.adopt_runtime_role(text) FROM PUBLIC;
