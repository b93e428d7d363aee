-- Analytics that answer from few rows: interaction rollups per day and per dimension (robot, or
-- interaction type: "by robot" never merges across types), and duration sketches that the write path
-- merges by appending instead of rebuilding a jsonb object per row. Valid on PostgreSQL 15 to 18.
-- Runs in one transaction, as the owner (direct URL).
--
-- Why: a 30-day range by day read about 72,000 hourly rollup rows (robot × type × hour) and expanded
-- their jsonb sketches in SQL (15 s at 10M events), and the jsonb merge of every upserted rollup row
-- cost ingest about 0.9 ms a row. Now a whole day is one row per robot (or type), and the sketches
-- are read and merged in the application (src/analytics/sketch.ts).
--
-- Sketch entries: an int8 per (log bucket, count), (bucket + 1) << 32 | count, in any order and
-- possibly repeating a bucket (the count of a bucket is the sum of its entries). Merging two sketches
-- is array concatenation, done in C; past 896 entries the merged array is compacted (one entry per
-- bucket, about 600 at most for durations from 1 ms to a minute), so a row stays bounded however many
-- batches reach it. Buckets are those of robot_brain.sketch_index (migration 0006).
--
-- Online: a new table and functions, a backfill that only reads interaction_rollups (writers carry on:
-- nobody writes the new table yet), and last a column added to interaction_rollups under a 2 s lock
-- timeout. Events stored by a process still running the previous version after this migration's
-- backfill reach the hourly rollups but not the daily ones: upgrade writers right after migrating
-- (see docs/analytics.md).

-- Interaction events per UTC day, dimension ('r' robot_id, 't' interaction_type) and key.
CREATE TABLE robot_brain.interaction_day_rollups (
  tenant_id      text        NOT NULL,
  dim            "char"      NOT NULL CHECK (dim IN ('r', 't')),
  day            timestamptz NOT NULL,
  key            text        NOT NULL,
  events         bigint      NOT NULL CHECK (events >= 0),
  successes      bigint      NOT NULL CHECK (successes >= 0),
  duration_sum   bigint      NOT NULL CHECK (duration_sum >= 0),
  duration_max   integer     NOT NULL,
  sketch_entries bigint[]    NOT NULL,
  PRIMARY KEY (tenant_id, dim, day, key)
) WITH (toast_tuple_target = 8160, fillfactor = 50);
-- Rollup rows are rewritten by every batch that reaches them: kept inline and uncompressed up to a
-- page (a compacted sketch of 896 entries is about 7 kB), since compressing a 4 kB array with pglz on
-- every update cost more than the update itself; free space on each page lets the new version stay
-- on the same page (a HOT update, no index entry).

-- One sketch entry: a bucket and a count below 2^32.
CREATE FUNCTION robot_brain.sketch_entry(p_index integer, p_count bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ((p_index + 1)::bigint << 32) | p_count
$$;

-- One entry per bucket, in bucket order; a count of 2^32 or more is split over several entries.
CREATE FUNCTION robot_brain.sketch_compact(p_entries bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg((b << 32) | least(n - g * 4294967295, 4294967295) ORDER BY b, g), '{}')
  FROM (SELECT e >> 32 AS b, sum(e & 4294967295)::bigint AS n FROM unnest(p_entries) e GROUP BY 1) s,
       generate_series(0::bigint, (n - 1) / 4294967295) g
  WHERE n > 0
$$;

-- Two sketches merged: concatenated, compacted when long. A single expression, so it is inlined.
CREATE FUNCTION robot_brain.sketch_append(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN cardinality(a) + cardinality(b) <= 896 THEN a || b
              ELSE robot_brain.sketch_compact(a || b) END
$$;

ALTER TABLE robot_brain.interaction_day_rollups ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.interaction_day_rollups FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.interaction_day_rollups TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.interaction_day_rollups TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON robot_brain.interaction_day_rollups TO robot_brain_app;
GRANT EXECUTE ON FUNCTION robot_brain.sketch_entry(integer, bigint), robot_brain.sketch_compact(bigint[]),
  robot_brain.sketch_append(bigint[], bigint[]) TO robot_brain_app;

-- Backfill from the hourly rollups (exact, and far fewer rows than the events; their sketches are all
-- jsonb until the write path of this version runs).
INSERT INTO robot_brain.interaction_day_rollups
WITH hours AS (
  SELECT r.*, d.dim, d.key, date_trunc('day', r.hour, 'UTC') AS day
  FROM robot_brain.interaction_rollups r
  CROSS JOIN LATERAL (VALUES ('r'::"char", r.robot_id), ('t'::"char", r.interaction_type)) d(dim, key)
),
sketches AS (
  SELECT tenant_id, dim, day, key, robot_brain.sketch_compact(array_agg(e)) AS s
  FROM (
    SELECT h.tenant_id, h.dim, h.day, h.key, robot_brain.sketch_entry(x.k::integer, x.v::bigint) AS e
    FROM hours h CROSS JOIN LATERAL jsonb_each_text(h.sketch) x(k, v)
  ) b
  GROUP BY 1, 2, 3, 4
)
SELECT c.tenant_id, c.dim, c.day, c.key, c.events, c.successes, c.duration_sum, c.duration_max, coalesce(k.s, '{}')
FROM (
  SELECT tenant_id, dim, day, key, sum(events)::bigint AS events, sum(successes)::bigint AS successes,
         sum(duration_sum)::bigint AS duration_sum, max(duration_max) AS duration_max
  FROM hours GROUP BY 1, 2, 3, 4
) c
LEFT JOIN sketches k USING (tenant_id, dim, day, key);

-- Last, the hourly table: the new column, with a constant default (a catalog change, no rewrite), and
-- the storage parameters above (the same reasons). ADD COLUMN takes an exclusive lock for an instant:
-- under a lock timeout, so a busy table makes the migration fail fast (run it again) rather than
-- queue writers behind it. Hourly rows keep their jsonb sketch for what was merged before this
-- migration; from now on the write path appends to sketch_entries instead, and readers add both.
SET LOCAL lock_timeout = '2s';
ALTER TABLE robot_brain.interaction_rollups
  ADD COLUMN sketch_entries bigint[] NOT NULL DEFAULT '{}',
  SET (toast_tuple_target = 8160, fillfactor = 70);
