-- Closed-day answers for interaction analytics: per UTC day, robot (or type), the day's own
-- percentiles and the running sketch of every day up to it, so a 30-day answer by day reads 30 small
-- rows per key plus two running sketches, instead of merging 30 daily sketches of hundreds of entries
-- each. Valid on PostgreSQL 15 to 18. Runs in one transaction, as the owner (direct URL).
--
-- These rows are a cache, filled by readers (src/analytics/closed-days.ts) for days that ended before
-- yesterday (UTC), never by the write path: ingest pays nothing for them. What keeps them exact is the
-- tenant's analytics epoch: a write of events dated before the writer's current UTC day (an import, a
-- late event) raises it in the same statement as the events (src/analytics/rollups.ts), and a reader
-- uses only rows of the current epoch. A reader fills rows from one snapshot, holding the epoch it read,
-- so a late write that commits meanwhile leaves them stale, never wrong. Writes dated today or yesterday
-- cannot touch a day old enough to be cached (the margin of one day covers a transaction that starts
-- before midnight and commits after it).
--
-- Online: two new tables and nothing else (no lock on a table in use, no backfill: the first query
-- fills what it needs).

-- Per tenant, raised by every statement that stores events dated before its own UTC day.
CREATE TABLE robot_brain.analytics_epochs (
  tenant_id text   PRIMARY KEY,
  epoch     bigint NOT NULL
);

-- One row per closed UTC day with events, dimension ('r' robot_id, 't' interaction_type) and key.
-- p50/p95/p99 are the day's own (as the application reads them from the day's sketch, clamped to the
-- day's max). run_events and run_sketch are the key's events and sketch entries (compacted: one entry
-- per bucket) of every day from its first through this one, within this epoch: the sketch of the days
-- (a, b] is run_sketch(b) - run_sketch(a), and run_events checks that no day between was missed.
CREATE TABLE robot_brain.interaction_closed_days (
  tenant_id  text        NOT NULL,
  dim        "char"      NOT NULL CHECK (dim IN ('r', 't')),
  key        text        NOT NULL,
  day        timestamptz NOT NULL,
  epoch      bigint      NOT NULL,
  p50        float8      NOT NULL,
  p95        float8      NOT NULL,
  p99        float8      NOT NULL,
  run_events bigint      NOT NULL CHECK (run_events >= 0),
  run_sketch bigint[]    NOT NULL,
  PRIMARY KEY (tenant_id, dim, key, day)
);

ALTER TABLE robot_brain.analytics_epochs ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.analytics_epochs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.analytics_epochs TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.analytics_epochs TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON robot_brain.analytics_epochs TO robot_brain_app;

ALTER TABLE robot_brain.interaction_closed_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE robot_brain.interaction_closed_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON robot_brain.interaction_closed_days TO robot_brain_app
  USING (tenant_id = robot_brain.current_tenant()) WITH CHECK (tenant_id = robot_brain.current_tenant());
CREATE POLICY owner_maintenance ON robot_brain.interaction_closed_days TO CURRENT_USER USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON robot_brain.interaction_closed_days TO robot_brain_app;
