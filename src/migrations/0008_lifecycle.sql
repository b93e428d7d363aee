-- Data lifecycle: scheduled upkeep run by one process at a time (a lease row, which works through a
-- transaction-mode pooler, unlike a session advisory lock), and a session_stats refresh that runs only
-- when turns changed since the last one (so upkeep never does work, or keeps a compute busy, for
-- nothing). Valid on PostgreSQL 15 to 18. Runs in one transaction, as the owner (direct URL).

-- One row per scheduled job. A process takes the lease with a conditional upsert (free or expired,
-- and the job due), renews it between tasks, and gives it back with its results.
CREATE TABLE robot_brain.upkeep_lease (
  name             text        PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 64),
  holder           text,
  expires_at       timestamptz,
  last_started_at  timestamptz,
  last_finished_at timestamptz,
  last_results     jsonb
);

-- Whether turns changed since session_stats was last refreshed: every statement that writes turns takes
-- a number from a sequence (no row lock, no hot row, no deadlock with the write path's session locks:
-- nextval is outside transactions); the refresh remembers the last number it saw before taking its
-- snapshot, and the next one runs only if the sequence moved on. NULL: never refreshed by upkeep.
CREATE SEQUENCE robot_brain.turn_changes AS bigint;
GRANT USAGE ON SEQUENCE robot_brain.turn_changes TO robot_brain_app;
ALTER TABLE robot_brain.stats_refresh ADD COLUMN changes_seen bigint;

CREATE FUNCTION robot_brain.count_turn_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('robot_brain.turn_changes');
  RETURN NULL;
END
$$;

SET LOCAL lock_timeout = '2s';
CREATE TRIGGER count_turn_changes
  AFTER INSERT OR UPDATE OR DELETE ON robot_brain.conversations
  FOR EACH STATEMENT EXECUTE FUNCTION robot_brain.count_turn_change();
