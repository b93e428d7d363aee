-- Closed-day answers kept through a late write (src/analytics/closed-days.ts, keepAnswers). Valid on
-- PostgreSQL 15 to 18. Runs in one transaction, as the owner (direct URL).
--
-- Why: a write of events dated before yesterday raises the tenant's analytics epoch (migration 0020),
-- which voided every closed-day answer of the tenant, and the next query computed them all again from
-- the key's first day: the whole history, for one late event. Answers of the days before the earliest
-- day a late write reached are still right (a running sketch covers the days up to its own).
--
-- Each raise by a write of this version now also counts itself in kept_raises and lowers kept_before
-- to the earliest day it reached. While epoch - kept_since = kept_raises (every raise since
-- kept_since recorded), the answers of epochs from kept_since on, for days before kept_before, are
-- right under the current epoch: a fill stamps them with it instead of computing them again, then
-- starts anew from the current epoch (kept_since = epoch, kept_raises = 0, kept_before = infinity).
-- A raise by an earlier version records nothing, so the counts disagree and nothing is kept: every
-- day is computed again, as before.
--
-- Online: three columns with constant defaults, a catalog change (an instant's exclusive lock on
-- analytics_epochs, which only writes of late events touch). Rows of earlier raises get counts that
-- disagree (kept_raises 0 for an epoch of 1 or more): nothing of theirs is kept. Under a lock
-- timeout: a busy table makes the migration fail fast (run it again) rather than queue writers
-- behind it.
SET LOCAL lock_timeout = '2s';
ALTER TABLE robot_brain.analytics_epochs
  ADD COLUMN kept_since  bigint      NOT NULL DEFAULT 0,
  ADD COLUMN kept_raises bigint      NOT NULL DEFAULT 0,
  ADD COLUMN kept_before timestamptz NOT NULL DEFAULT 'infinity';
