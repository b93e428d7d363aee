-- The rest of a closed day from a given hour, per robot (or type): a cache for the partial day at the
-- start of a range, such as the first day of "the last 30 days". Valid on PostgreSQL 15 to 18. Runs
-- in one transaction, as the owner (direct URL).
--
-- That day's part inside the range is its whole hours from `since` to the end of the day, plus the
-- raw events of the edge hour. Without this cache, its sketch is the day's daily sketch less the
-- hourly rows before `since`: at 08:40 UTC, nine hours of hourly rows per robot and type (900 rows
-- and 36,000 sketch entries in the bench), which was almost half of a 30-day answer's entries. With
-- it, one row per key.
--
-- Like interaction_closed_days (migration 0020), the rows are filled by readers
-- (src/analytics/closed-suffixes.ts) for days that ended before yesterday (UTC), never by the write
-- path, and are valid only under the tenant's current analytics epoch. A reader checks each row's
-- events against the hourly rows' own count in the same snapshot, and fills again when they differ.
-- Rows filled more than two hours ago are deleted by the next fill of the tenant: a range starting at
-- `since` is asked for within the hour, rarely later.
--
-- Both caches also store their sketches packed (bytea, eight bytes an entry, src/analytics/sketch.ts):
-- a 30-day answer by robot reads two running sketches a robot, about 17,000 entries, and formatting
-- them as numbers cost the server about 2 ms and the application as much to read back. The running
-- sketches keep their int8[] form too, for the previous version's readers during an upgrade.
--
-- Online: a new table, a new function, and nullable columns without default (a change of the catalog
-- only) under a 2 s lock timeout: each waits for a transaction on its table (a writer's, on the daily
-- rollups), and gives way instead of queueing every later reader and writer behind it.

-- A sketch's entries packed: eight bytes each, big-endian, as int8send gives them.
CREATE FUNCTION robot_brain.sketch_pack(p_entries bigint[]) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(string_agg(int8send(e), ''::bytea ORDER BY o), ''::bytea)
  FROM unnest(p_entries) WITH ORDINALITY u(e, o)
$$;
GRANT EXECUTE ON FUNCTION robot_brain.sketch_pack(bigint[]) TO robot_brain_app;

-- One row per (dimension, key, since) with events in [since, end of since's UTC day): 'r' robot_id,
-- 't' interaction_type. The sketch is compacted (one entry per bucket) and packed.
CREATE TABLE robot_brain.interaction_closed_suffixes (
  tenant_id      text        NOT NULL,
  dim            "char"      NOT NULL CHECK (dim IN ('r', 't')),
  key            text        NOT NULL,
  since          timestamptz NOT NULL,
  epoch          bigint      NOT NULL,
  events         bigint      NOT NULL CHECK (events > 0),
  sketch         bytea       NOT NULL,
  filled_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, dim, key, since)
);

ALTER TABLE robot_brain.interaction_closed_suffixes ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.interaction_closed_suffixes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.interaction_closed_suffixes TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.interaction_closed_suffixes TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON robot_brain.interaction_closed_suffixes TO robot_brain_app;

-- The running sketch packed, written beside run_sketch by this version; null in rows written before.
SET LOCAL lock_timeout = '2s';
ALTER TABLE robot_brain.interaction_closed_days ADD COLUMN run_packed bytea;

-- A closed day's answer (p50, p95, p99) also on its daily row, with the epoch it was computed under:
-- a 30-day answer by robot read 560 answers by as many index probes, about 2 ms of its 9. Written by
-- the fill beside interaction_closed_days, which the previous version goes on reading; a daily row
-- without an answer of the current epoch is answered from there as before. (Not named `answer`: the
-- previous version's query selects d.* beside an `answer` of its own.)
ALTER TABLE robot_brain.interaction_day_rollups ADD COLUMN day_answer float8[], ADD COLUMN day_answer_epoch bigint;
