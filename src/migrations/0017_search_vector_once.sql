-- Search: each turn's text parsed once for its search_vector, not twice. Valid on PostgreSQL 15 to 18.
-- Runs in one transaction, as the owner (direct URL). Online: a text search dictionary and
-- configuration (new catalog rows) and functions replaced; no table is read or locked. The vectors of
-- turns stored before it are rebuilt by its online step (0017:refresh_search_vector, in batches).
--
-- Why: 0005 built the vector from two configurations, 'english' (stems) and 'simple' (words as
-- written, stop words kept), so the trigger parsed every text twice; that parsing was most of what the
-- search columns cost a turn write (measured: ingest at 64 writers 0.71 to 0.77× of the same ingest
-- without them). One configuration does both jobs: 'english' with its stemmer given no stop-word list,
-- so "running" still finds "run", a query of only "the" still finds its turns, and a word in any other
-- script is kept as written (lower-cased), as the 'simple' configuration kept it.

-- The English snowball stemmer without stop words (the built-in english_stem drops "the", "was", ...).
-- Needs no superuser: only a built-in template is used.
CREATE TEXT SEARCH DICTIONARY robot_brain.english_all_words (TEMPLATE = snowball, Language = english);

-- The 'english' configuration with that dictionary: numbers, e-mail addresses, URLs and the like keep
-- going to 'simple' as in 'english'.
CREATE TEXT SEARCH CONFIGURATION robot_brain.turn_words (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION robot_brain.turn_words
  ALTER MAPPING REPLACE english_stem WITH robot_brain.english_all_words;

-- The user's words weigh A, the robot's B, each text parsed once.
CREATE OR REPLACE FUNCTION robot_brain.turn_search_vector(p_user text, p_robot text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT setweight(to_tsvector('robot_brain.turn_words'::regconfig, coalesce(p_user, '')), 'A')
      || setweight(to_tsvector('robot_brain.turn_words'::regconfig, coalesce(p_robot, '')), 'B')
$$;

-- The query: websearch syntax ("phrases", -word, or) in 'english', whose stems are the same (the same
-- Snowball stemmer) and which leaves stop words out, so "what did I say about the trip" asks for its
-- words, not for "what" and "did" as well (keeping them made full-text Recall@10 on the evaluation
-- set fall from 0.34 to 0.32, its filtered queries from 0.24 to 0.15); phrases still match, the stop
-- words' positions being kept in the vector. A query of stop words only ("the"), empty in 'english',
-- is asked in robot_brain.turn_words, which keeps them. One configuration's stems on both sides also
-- makes `-word` exact (0005's 'english' OR 'simple' query turned "-running" into !'run' | !'running').
-- Vectors made by 0005, until the online step rebuilds them, hold the stems too, so these queries find
-- them.
CREATE OR REPLACE FUNCTION robot_brain.turn_search_query(p_query text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN numnode(q) > 0 THEN q
              ELSE websearch_to_tsquery('robot_brain.turn_words'::regconfig, p_query) END
  FROM websearch_to_tsquery('english'::regconfig, p_query) AS q
$$;

-- The turns of the caller's tenant whose metadata contains p_metadata, through the metadata GIN
-- index. Why a function (as robot_brain.fulltext_matches in 0011): under row-level security a
-- condition whose operator is not LEAKPROOF is never an index condition, and jsonb's `@>` is not, so
-- for the runtime role a metadata filter read every turn of the tenant (measured at 1M turns: 5.5 s,
-- a scan of every partition, against 28 ms through the index as the owner). It runs as the owner
-- (whose policy is `true`) and applies the tenant condition itself, only for the tenant the caller's
-- transaction acts for (robot_brain.use_tenant). Semantic search uses it for its exact search when
-- a metadata filter is what narrows it (src/search/semantic.ts).
CREATE FUNCTION robot_brain.metadata_turns(p_tenant text, p_metadata jsonb)
RETURNS TABLE (id uuid, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT c.id, c.created_at FROM robot_brain.conversations c
  WHERE p_tenant IS NOT NULL AND p_tenant = robot_brain.current_tenant()
    AND c.tenant_id = p_tenant AND c.metadata @> p_metadata
$$;
REVOKE EXECUTE ON FUNCTION robot_brain.metadata_turns(text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION robot_brain.metadata_turns(text, jsonb) TO robot_brain_app;
