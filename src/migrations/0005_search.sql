-- Search: a weighted tsvector per turn, embeddings of any model and dimension, and a durable
-- embedding queue. Online: every statement here changes catalogs only (no table rewrite, no scan
-- of the turns), so it holds its locks for milliseconds. The slow parts (filling search_vector on
-- stored turns, the GIN index of each partition) are the online steps of this migration
-- (src/db/online-steps.ts), run after it in batches, outside any long transaction, resumable.

-- A plain nullable column: ADD COLUMN without a default rewrites nothing. (A stored generated
-- column would rewrite every partition under an exclusive lock.)
ALTER TABLE robot_brain.conversations ADD COLUMN search_vector tsvector;

-- What a turn is searched by. Two configurations in one vector: 'english' (stems: "running"
-- finds "run") and 'simple' (every word as written, in any script, stop words included: a
-- query of only "the" or a word the stemmer mangles still matches). The user's words weigh A,
-- the robot's B. Both configurations are built in, so this never fails on any language.
CREATE FUNCTION robot_brain.turn_search_vector(p_user text, p_robot text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT setweight(to_tsvector('english'::regconfig, coalesce(p_user, '')), 'A')
      || setweight(to_tsvector('english'::regconfig, coalesce(p_robot, '')), 'B')
      || setweight(to_tsvector('simple'::regconfig, coalesce(p_user, '')), 'A')
      || setweight(to_tsvector('simple'::regconfig, coalesce(p_robot, '')), 'B')
$$;

-- The query side of the same two configurations: websearch syntax ("phrases", -word, or).
CREATE FUNCTION robot_brain.turn_search_query(p_query text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT websearch_to_tsquery('english'::regconfig, p_query) || websearch_to_tsquery('simple'::regconfig, p_query)
$$;

-- Filled on every insert and on any change of the text, whatever writes the row (the turn
-- writer, imports, restores, a later answer to a pending turn).
-- A changed text (a pending turn answered later) also makes its vectors stale: they are dropped
-- and the turn queued again. (Defined before the queue tables; resolved when it runs.)
CREATE FUNCTION robot_brain.conversations_fill_search_vector() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.search_vector := robot_brain.turn_search_vector(NEW.user_message, NEW.robot_response);
  IF TG_OP = 'UPDATE' AND (NEW.user_message IS DISTINCT FROM OLD.user_message
                           OR NEW.robot_response IS DISTINCT FROM OLD.robot_response) THEN
    DELETE FROM robot_brain.embeddings e WHERE e.tenant_id = OLD.tenant_id AND e.turn_id = OLD.id;
    INSERT INTO robot_brain.embedding_queue (tenant_id, turn_id, created_at)
    VALUES (NEW.tenant_id, NEW.id, NEW.created_at)
    ON CONFLICT (tenant_id, turn_id) DO UPDATE SET next_attempt_at = now(), attempts = 0;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER fill_search_vector
  BEFORE INSERT OR UPDATE OF user_message, robot_response ON robot_brain.conversations
  FOR EACH ROW EXECUTE FUNCTION robot_brain.conversations_fill_search_vector();

-- Embeddings, one row per turn and model. The vector is a real[] so this table exists with or
-- without the pgvector extension; vector indexes are expression indexes (embedding::vector(N))
-- per model, made when a model is first used (src/search/vector-index.ts). Changing the model
-- keeps the old vectors; the new model's are computed alongside.
CREATE TABLE robot_brain.embeddings (
  tenant_id  text        NOT NULL,
  turn_id    uuid        NOT NULL,
  model      text        NOT NULL CHECK (char_length(model) BETWEEN 1 AND 200),
  dimensions integer     NOT NULL CHECK (dimensions BETWEEN 1 AND 16000),
  embedding  real[]      NOT NULL CHECK (cardinality(embedding) = dimensions),
  -- the turn's partition key, so joining back to the turn is a primary-key lookup
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, turn_id, model)
);

-- Turns waiting for an embedding by the configured model. Filled by the same statement that
-- inserts the turns (statement trigger below), emptied by the embedding worker. A crash loses
-- nothing: a claimed row only carries a lease that runs out.
CREATE TABLE robot_brain.embedding_queue (
  tenant_id       text        NOT NULL,
  turn_id         uuid        NOT NULL,
  created_at      timestamptz NOT NULL,
  enqueued_at     timestamptz NOT NULL DEFAULT now(),
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  PRIMARY KEY (tenant_id, turn_id)
);
CREATE INDEX embedding_queue_due_idx ON robot_brain.embedding_queue (next_attempt_at);

CREATE FUNCTION robot_brain.conversations_enqueue_embeddings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO robot_brain.embedding_queue (tenant_id, turn_id, created_at)
  SELECT n.tenant_id, n.id, n.created_at FROM inserted_turns n
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;
CREATE TRIGGER enqueue_embeddings
  AFTER INSERT ON robot_brain.conversations
  REFERENCING NEW TABLE AS inserted_turns
  FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.conversations_enqueue_embeddings();

-- A deleted turn (a deleted session cascades here) takes its vectors and queue entry with it.
CREATE FUNCTION robot_brain.conversations_forget_embeddings() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM robot_brain.embeddings e USING deleted_turns d
   WHERE e.tenant_id = d.tenant_id AND e.turn_id = d.id;
  DELETE FROM robot_brain.embedding_queue q USING deleted_turns d
   WHERE q.tenant_id = d.tenant_id AND q.turn_id = d.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER forget_embeddings
  AFTER DELETE ON robot_brain.conversations
  REFERENCING OLD TABLE AS deleted_turns
  FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.conversations_forget_embeddings();

ALTER TABLE robot_brain.embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.embeddings FORCE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.embedding_queue ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.embedding_queue FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.embeddings TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY tenant_isolation ON robot_brain.embedding_queue TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.embeddings TO CURRENT_USER USING (true) WITH CHECK (true);
CREATE POLICY owner_maintenance ON robot_brain.embedding_queue TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON robot_brain.embeddings, robot_brain.embedding_queue TO robot_brain_app;

-- Progress of the online steps of each migration (src/db/online-steps.ts).
CREATE TABLE robot_brain.schema_online_steps (
  version  integer     NOT NULL,
  step     text        NOT NULL,
  progress jsonb       NOT NULL DEFAULT '{}',
  done_at  timestamptz,
  PRIMARY KEY (version, step)
);
GRANT SELECT ON robot_brain.schema_online_steps TO robot_brain_app;

-- pgvector, when the server has it and this role may create it. Without it everything but
-- semantic search works, and semantic requests say the extension is missing.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_available_extensions WHERE name = 'vector')
     AND NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'vector') THEN
    BEGIN
      CREATE EXTENSION vector;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgvector is available but this role may not create it: semantic search stays off until an administrator runs CREATE EXTENSION vector';
    END;
  END IF;
END
$$;
